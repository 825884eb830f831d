"""`shared.sd_upscalers[i].scaler.upscale(...)` runs Easel's upscaler of that row, as extensions call it."""
from PIL import Image


def test_scaler_upscales_through_the_app(recorder_app):
    from modules import shared

    rows = {row.name: row for row in shared.sd_upscalers}
    assert {"None", "Lanczos", "Nearest"} <= set(rows)
    image = Image.new("RGB", (16, 12), "red")
    out = rows["Lanczos"].scaler.upscale(image, 2, rows["Lanczos"].data_path)
    assert out.size == (32, 24) and out.getpixel((5, 5)) == (255, 0, 0)


def test_face_restorers_list_only_what_has_files(recorder_app):
    from modules import shared

    assert shared.face_restorers == []  # no model files in a fresh data dir
    from modules.extensions.compat.face_view import FaceRestorerView

    assert FaceRestorerView("GFPGAN").name() == "GFPGAN"
