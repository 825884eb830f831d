"""sd-webui-controlnet's API on Easel: /controlnet/* shapes, units in alwayson_scripts (dict and 1.0 flat form),
422s naming the unit and field, and webuiapi's ControlNet methods against a real server."""
from __future__ import annotations

import base64
import io

import pytest
import webuiapi
from PIL import Image, ImageDraw

from tests.api.conftest import TINY, make_client
from tests.api.server_process import ServerProcess, data_dir_with
from tests.fixtures.tiny_controlnet import make_tiny_controlnet


def control_image(size: int = 64) -> Image.Image:
    image = Image.new("RGB", (size, size), "black")
    ImageDraw.Draw(image).ellipse((12, 12, size - 12, size - 12), fill="white")
    return image


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def cn_client(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("cn-api")
    make_tiny_controlnet(root / "models" / "ControlNet", "control_tiny_canny")
    with make_client(root, tiny_checkpoint) as c:
        yield c


def model_name(client) -> str:
    names = client.get("/controlnet/model_list").json()["model_list"]
    tiny = [name for name in names if name.startswith("control_tiny_canny [")]
    assert len(tiny) == 1 and set(names) - set(tiny) <= {n for n in names if n.startswith("easel-builtin")}
    return tiny[0]  # beside the built-in ControlNet every install lists


def unit(client, **fields) -> dict:
    return {"enabled": True, "module": "canny", "model": model_name(client), "image": b64(control_image()),
            **fields}


def test_info_routes(cn_client):
    assert cn_client.get("/controlnet/version").json() == {"version": 3}
    assert cn_client.get("/controlnet/settings").json() == {"control_net_unit_count": 3}
    modules = cn_client.get("/controlnet/module_list").json()
    assert modules["module_list"][0] == "none" and "canny" in modules["module_list"]
    assert modules["module_detail"]["canny"]["model_free"] is False
    assert [s["name"] for s in modules["module_detail"]["canny"]["sliders"]] == \
        ["Resolution", "Low Threshold", "High Threshold"]
    labels = cn_client.get("/controlnet/module_list", params={"alias_names": True}).json()["module_list"]
    assert "invert (from white bg & black line)" in labels
    types = cn_client.get("/controlnet/control_types").json()["control_types"]
    assert types["Canny"]["default_option"] == "canny" and types["Canny"]["model_list"] == ["None", model_name(
        cn_client)]
    assert types["All"]["default_model"] == "None"


def test_detect(cn_client):
    body = {"controlnet_module": "canny", "controlnet_input_images": [b64(control_image())],
            "controlnet_processor_res": 64, "controlnet_threshold_a": 100, "controlnet_threshold_b": 200}
    out = cn_client.post("/controlnet/detect", json=body).json()
    assert out["info"] == "Success"
    edges = Image.open(io.BytesIO(base64.b64decode(out["images"][0])))
    assert edges.size == (64, 64) and edges.getpixel((32, 32)) == (0, 0, 0) and max(edges.getdata())[0] == 255
    bad = cn_client.post("/controlnet/detect", json={**body, "controlnet_module": "depth_midas"})
    assert bad.status_code == 422 and "dpt_hybrid-midas-501f0c75.pt" in bad.text
    assert cn_client.post("/controlnet/detect", json={"controlnet_module": "inpaint_only",
                                                      "controlnet_input_images": [b64(control_image())]}
                          ).status_code == 422


@pytest.mark.parametrize("change, field", [
    ({"module": "nope"}, "controlnet.args[1].module"),
    ({"module": "openpose"}, "controlnet.args[1].module"),
    ({"model": "missing_model"}, "controlnet.args[1].model"),
    ({"model": "None"}, "controlnet.args[1].model"),
    ({"image": None}, "controlnet.args[1].image"),
    ({"image": "not base64!"}, "controlnet.args[1].image"),
    ({"weight": 5}, "controlnet.args[1].weight"),
    ({"module": "inpaint_only"}, "controlnet.args[1].mask"),
])
def test_bad_units_are_422_naming_unit_and_field(cn_client, change, field):
    units = [{"enabled": False}, {**unit(cn_client), **change}]
    response = cn_client.post("/sdapi/v1/txt2img", json={**TINY, "alwayson_scripts": {"controlnet": {"args": units}}})
    assert response.status_code == 422, response.text
    assert field in response.text


def test_controlnet_changes_txt2img_and_echo_is_json(cn_client):
    plain = cn_client.post("/sdapi/v1/txt2img", json=TINY).json()
    with_cn = cn_client.post("/sdapi/v1/txt2img", json={**TINY, "alwayson_scripts": {
        "ControlNet": {"args": [unit(cn_client, weight=2.0, processor_res=64)]}}})
    assert with_cn.status_code == 200, with_cn.text
    assert with_cn.json()["images"][0] != plain["images"][0]
    assert "controlnet_units" not in with_cn.json()["parameters"]
    flat = [True, "canny", model_name(cn_client), 2.0, b64(control_image()), "Crop and Resize", False, 64, 100, 200,
            0.0, 1.0, False, False, "Balanced"]
    old = cn_client.post("/sdapi/v1/txt2img", json={**TINY, "alwayson_scripts": {"controlnet": {"args": flat}}})
    assert old.status_code == 200, old.text
    assert old.json()["images"][0] == with_cn.json()["images"][0]  # same unit, older form



def test_detected_maps_follow_the_images(cn_client):
    body = {**TINY, "alwayson_scripts": {"controlnet": {"args": [unit(cn_client, processor_res=64)]}}}
    images = cn_client.post("/sdapi/v1/txt2img", json=body).json()["images"]
    assert len(images) == 2  # the image, then unit 0's canny map at the generation size
    detected = Image.open(io.BytesIO(base64.b64decode(images[1])))
    assert detected.size == (64, 64) and set(detected.convert("L").getdata()) <= {0, 255}
    assert detected.getpixel((32, 32)) == (0, 0, 0) and max(detected.getdata())[0] == 255
    body["alwayson_scripts"]["controlnet"]["args"][0]["save_detected_map"] = False
    assert len(cn_client.post("/sdapi/v1/txt2img", json=body).json()["images"]) == 1


def test_disabled_units_change_nothing(cn_client):
    plain = cn_client.post("/sdapi/v1/txt2img", json=TINY).json()
    off = cn_client.post("/sdapi/v1/txt2img", json={**TINY, "alwayson_scripts": {"controlnet": {"args": [
        {**unit(cn_client), "enabled": False}, None]}}}).json()
    assert off["images"][0] == plain["images"][0]


@pytest.fixture(scope="module")
def server(tiny_checkpoint, tmp_path_factory):
    root = data_dir_with(tiny_checkpoint, tmp_path_factory.mktemp("cn-server"))
    make_tiny_controlnet(root / "models" / "ControlNet", "control_tiny_canny")
    proc = ServerProcess(root)
    yield proc
    proc.stop()


def test_webuiapi_controlnet_methods(server):
    api = webuiapi.WebUIApi(port=server.port, sampler="Euler", steps=2)
    models = api.controlnet_model_list()
    mine = [m for m in models if not m.startswith("easel-builtin")]  # the built-in ControlNet is listed too
    assert len(mine) == 1 and mine[0].startswith("control_tiny_canny")
    assert "canny" in api.controlnet_module_list()
    detected = api.controlnet_detect([control_image()], module="canny", processor_res=64)
    assert detected.image.size == (64, 64)
    cn = webuiapi.ControlNetUnit(image=control_image(), module="canny", model=models[0], weight=2.0,
                                 processor_res=64)
    plain = api.txt2img(prompt="a red cube", seed=3, width=64, height=64)
    # webuiapi writes units into its mutable default `alwayson_scripts={}`, so every later call in this
    # process would carry them: pass a fresh dict whenever units are given.
    result = api.txt2img(prompt="a red cube", seed=3, width=64, height=64, controlnet_units=[cn],
                         alwayson_scripts={})
    assert result.image.size == (64, 64) and list(result.image.getdata()) != list(plain.image.getdata())
    assert len(result.images) == 2  # the detected map follows, as the extension sends it
    result = api.img2img(images=[plain.image], prompt="a red cube", seed=3, width=64, height=64,
                         denoising_strength=0.6, alwayson_scripts={}, controlnet_units=[webuiapi.ControlNetUnit(
                             module="canny", model=models[0], processor_res=64)])  # no image: the init image
    assert result.image.size == (64, 64)


def test_inpaint_only_reads_the_unit_mask_or_img2img_mask(cn_client):
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    txt = {**TINY, "alwayson_scripts": {"controlnet": {"args": [unit(cn_client, module="inpaint_only",
                                                                     mask=b64(mask))]}}}
    assert cn_client.post("/sdapi/v1/txt2img", json=txt).status_code == 200
    img = {**TINY, "init_images": [b64(control_image())], "mask": b64(mask), "denoising_strength": 0.5,
           "alwayson_scripts": {"controlnet": {"args": [{"module": "inpaint_only", "model": model_name(cn_client)}]}}}
    response = cn_client.post("/sdapi/v1/img2img", json=img)
    assert response.status_code == 200, response.text
    assert len(response.json()["images"]) == 2  # the image, then the inpaint map (masked area darkened)
    img.pop("mask")
    response = cn_client.post("/sdapi/v1/img2img", json=img)
    assert response.status_code == 422 and "controlnet.args[0].mask" in response.text
