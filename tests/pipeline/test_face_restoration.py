"""restore_faces in txt2img / img2img, Extras' GFPGAN and CodeFormer sliders and the API, on the tiny model.

The model files are placeholders and the detector and restorer are stand-ins (a known face, a restorer that negates
the crop), so these check the wiring: when restoration runs, where it changes pixels, what the infotext says, and
the message when files are missing. The networks themselves are tested in tests/upscalers/test_faces.py.
"""
import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.extras import ExtrasRequest
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest
from modules.upscalers.faces import restorers as restorers_module
from modules.upscalers.faces.align import FFHQ_TEMPLATE, align_matrix, crop_box
from modules.upscalers.faces.detect import Face

BASE = dict(prompt="a face", steps=2, width=64, height=64, seed=7, sampler_name="Euler")
POINTS = (FFHQ_TEMPLATE - 256) * 0.06 + np.array([30.0, 30.0])  # a face about 30 px wide, centred at (30, 30)


class Negate(torch.nn.Module):
    """Stands in for a restorer network: the crop negated in [-1, 1]; records how it was called."""

    def __init__(self, calls):
        super().__init__()
        self.one = torch.nn.Parameter(torch.ones(()))
        self.calls = calls

    def forward(self, x, **kwargs):
        self.calls.append(kwargs)
        return (-x * self.one, None)


def supply_models(app, monkeypatch, folder="GFPGAN", files=("GFPGANv1.4.pth", "detection_Resnet50_Final.pth")):
    """Placeholder files where the user puts them; the detector finds POINTS, the restorer negates. → call log"""
    target = app.paths.models_dir / folder
    target.mkdir(parents=True, exist_ok=True)
    for name in files:
        (target / name).write_bytes(b"placeholder")
    faces = app.services.upscalers.faces
    calls = []
    face = Face((20.0, 20.0, 40.0, 44.0), 0.99, POINTS)
    monkeypatch.setattr(faces, "detect", lambda image: [face])
    monkeypatch.setattr(faces, "restorer", lambda kind: calls.append(kind.name) or Negate(calls))
    monkeypatch.setattr(restorers_module, "extra_registry", lambda: object())  # as if spandrel-extra-arches were in
    return calls


def changed_box(a: Image.Image, b: Image.Image):
    ys, xs = np.nonzero(np.any(np.asarray(a.convert("RGB")) != np.asarray(b.convert("RGB")), axis=-1))
    return (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) if len(xs) else None


def inside(box, outer) -> bool:
    return box[0] >= outer[0] and box[1] >= outer[1] and box[2] <= outer[2] and box[3] <= outer[3]


def test_without_model_files_restore_faces_is_refused_naming_them(app):
    with pytest.raises(InvalidInput) as error:
        app.txt2img(GenerationRequest(**BASE, restore_faces=True))
    text = error.value.message
    assert text.startswith("restore_faces: face restoration with CodeFormer is not available")
    assert "codeformer-v0.1.0.pth" in text and str(app.paths.models_dir / "Codeformer") in text
    assert "detection_Resnet50_Final.pth" in text
    with pytest.raises(InvalidInput, match="face_restoration: .*GFPGANv1.4.pth"):
        app.txt2img(GenerationRequest(**BASE, override_settings={"face_restoration": True,
                                                                 "face_restoration_model": "GFPGAN"}))
    plain = app.txt2img(GenerationRequest(**BASE, restore_faces=False, override_settings={"face_restoration": True}))
    assert "Face restoration" not in plain.infotexts[0]


def test_txt2img_restores_the_face_after_decoding(app, monkeypatch):
    plain = app.txt2img(GenerationRequest(**BASE))
    calls = supply_models(app, monkeypatch)
    gfpgan = {"face_restoration_model": "GFPGAN"}
    result = app.txt2img(GenerationRequest(**BASE, restore_faces=True, override_settings=gfpgan))
    box = changed_box(plain.images[0], result.images[0])
    assert box is not None and inside(box, crop_box(align_matrix(POINTS), 512, (64, 64)))
    assert calls == ["GFPGAN", {"return_rgb": False, "randomize_noise": False}]
    assert parse_infotext(result.infotexts[0])["Face restoration"] == "GFPGAN"
    assert result.info["restore_faces"] is True and result.info["face_restoration_model"] == "GFPGAN"
    by_setting = app.txt2img(GenerationRequest(**BASE, override_settings={**gfpgan, "face_restoration": True}))
    assert np.array_equal(np.asarray(by_setting.images[0]), np.asarray(result.images[0]))
    assert "Face restoration: GFPGAN" in by_setting.infotexts[0]
    assert plain.info["restore_faces"] is False and "Face restoration" not in plain.infotexts[0]


def test_img2img_restores_before_the_inpainting_overlay_and_not_at_strength_0(app, monkeypatch):
    init = Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 24, 24))  # the face box reaches beyond the mask
    calls = supply_models(app, monkeypatch, "Codeformer", ("codeformer-v0.1.0.pth", "detection_Resnet50_Final.pth"))
    req = Img2ImgRequest(**BASE, init_images=(init,), mask=mask, mask_blur=0, inpaint_full_res=False,
                         denoising_strength=0.6, restore_faces=True, override_settings={"code_former_weight": 0.2})
    result = app.img2img(req)
    assert calls == ["CodeFormer", {"weight": 0.2, "adain": True}]
    assert "Face restoration: CodeFormer" in result.infotexts[0]
    out = np.asarray(result.images[0].convert("RGB"))
    original = np.asarray(init)
    assert np.array_equal(out[24:, :], original[24:, :]) and np.array_equal(out[:, 24:], original[:, 24:])
    untouched = app.img2img(Img2ImgRequest(**BASE, init_images=(init,), denoising_strength=0.0, restore_faces=True))
    assert np.array_equal(np.asarray(untouched.images[0].convert("RGB")), np.asarray(init))
    assert "Face restoration" not in untouched.infotexts[0] and len(calls) == 2


def test_extras_gfpgan_then_codeformer_with_visibility_and_weight(app, monkeypatch):
    image = Image.fromarray(np.random.default_rng(4).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(InvalidInput, match="gfpgan_visibility: face restoration with GFPGAN is not available.*"
                                           "GFPGANv1.4.pth"):
        app.extras(ExtrasRequest(images=[image], gfpgan_visibility=1))
    with pytest.raises(InvalidInput, match="codeformer_weight"):
        app.extras(ExtrasRequest(images=[image], codeformer_visibility=1, codeformer_weight=2))
    supply_models(app, monkeypatch)
    calls = supply_models(app, monkeypatch, "Codeformer", ("codeformer-v0.1.0.pth",))
    result = app.extras(ExtrasRequest(images=[image], upscaler_1="None", upscaling_resize=1, gfpgan_visibility=0.5,
                                      codeformer_visibility=1, codeformer_weight=0.25))
    assert result.infotexts[0] == ("Postprocess upscale by: 1, Postprocess upscaler: None, GFPGAN visibility: 0.5, "
                                   "CodeFormer visibility: 1.0, CodeFormer weight: 0.25")
    assert [c for c in calls if isinstance(c, str)] == ["GFPGAN", "CodeFormer"]
    assert {"weight": 0.25, "adain": True} in calls
    box = changed_box(image, result.images[0])
    assert box is not None and inside(box, crop_box(align_matrix(POINTS), 512, (64, 64)))


def test_api_lists_restorers_and_restores_through_extras_and_txt2img(tmp_path, tiny_checkpoint, monkeypatch):
    from tests.api.conftest import TINY, make_client

    with make_client(tmp_path, tiny_checkpoint) as client:
        assert client.get("/sdapi/v1/face-restorers").json() == []
        app = client.app_under_test
        supply_models(app, monkeypatch)
        folder = str(app.paths.models_dir / "GFPGAN")
        assert client.get("/sdapi/v1/face-restorers").json() == [{"name": "GFPGAN", "cmd_dir": folder}]
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), (200, 150, 120)).save(buffer, format="PNG")
        r = client.post("/sdapi/v1/extra-single-image",
                        json={"image": base64.b64encode(buffer.getvalue()).decode(), "gfpgan_visibility": 1})
        assert r.status_code == 200, r.text[:300]
        assert "GFPGAN visibility: 1" in r.json()["html_info"]
        r = client.post("/sdapi/v1/txt2img", json={**TINY, "restore_faces": True,
                                                   "override_settings": {"face_restoration_model": "GFPGAN"}})
        assert r.status_code == 200, r.text[:300]
        assert "Face restoration: GFPGAN" in r.json()["info"]
        r = client.post("/sdapi/v1/txt2img", json={**TINY, "restore_faces": True})  # CodeFormer: no file
        assert r.status_code == 422 and "codeformer-v0.1.0.pth" in r.json()["errors"]
