"""The A1111 fields of the pipeline through /sdapi/v1: accepted where A1111 accepts them, typed as A1111 types them."""
import base64
import io
import json

import numpy as np
from PIL import Image, PngImagePlugin

from modules.imaging.infotext import parse_infotext
from tests.api.conftest import make_client

TINY = {"prompt": "a red cube", "steps": 2, "width": 64, "height": 64, "sampler_name": "Euler", "seed": 11}


def b64_png(image: Image.Image, text: str | None = None) -> str:
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_text("parameters", text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return base64.b64encode(buffer.getvalue()).decode()


def test_png_info_numbers_where_a1111_gives_numbers(tmp_path, tiny_checkpoint):
    text = "a (castle)\nSteps: 20, Sampler: Euler, Seed: 5, Size: 512x512, Version: v1.10.1"
    with make_client(tmp_path, tiny_checkpoint) as client:
        reply = client.post("/sdapi/v1/png-info", json={"image": b64_png(Image.new("RGB", (8, 8)), text)})
    assert reply.status_code == 200
    params = reply.json()["parameters"]
    assert params["Steps"] == "20" and params["Size-1"] == "512"  # read from the text: strings, as A1111
    assert params["Masked area padding"] == 32 and params["Hires resize-1"] == 0 and params["Schedule rho"] == 0
    assert params["Hires schedule type"] == "Use same scheduler" and params["Emphasis"] == "Original"


def test_new_fields_reach_the_pipeline(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint) as client:
        tiled = client.post("/sdapi/v1/txt2img", json={**TINY, "tiling": True, "s_min_uncond": 100})
        assert tiled.status_code == 200, tiled.text
        fields = parse_infotext(json.loads(tiled.json()["info"])["infotexts"][0])
        assert fields["Tiling"] == "True" and fields["NGMS"] == "100"
        first = b64_png(Image.fromarray(np.full((64, 64, 3), 120, dtype=np.uint8)))
        hires = client.post("/sdapi/v1/txt2img", json={**TINY, "enable_hr": True, "hr_scale": 2,
                                                       "hr_second_pass_steps": 1, "firstpass_image": first})
        assert hires.status_code == 200, hires.text
        image = Image.open(io.BytesIO(base64.b64decode(hires.json()["images"][0])))
        assert image.size == (128, 128)
        bad = client.post("/sdapi/v1/txt2img", json={**TINY, "firstpass_image": first})
        assert bad.status_code == 422 and "firstpass_image" in bad.text
        mask = Image.new("L", (64, 64), 0)
        mask.paste(255, (0, 0, 32, 64))
        inpaint = client.post("/sdapi/v1/img2img", json={
            **TINY, "init_images": [first], "mask": b64_png(mask), "latent_mask": b64_png(mask),
            "mask_round": False})
        assert inpaint.status_code == 200, inpaint.text
        refused = client.post("/sdapi/v1/img2img", json={**TINY, "init_images": [first], "latent_mask": b64_png(mask)})
        assert refused.status_code == 422 and "latent_mask" in refused.text
