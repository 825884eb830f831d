"""/sdapi/v1 generation routes in process: A1111 response shapes, one-request overrides, infotext, extras, png-info."""
from __future__ import annotations

import base64
import io
import json

from PIL import Image

from modules.jobs.codec import png_bytes
from modules.prompts.styles import PromptStyle
from tests.api.conftest import TINY


def b64_png(image: Image.Image, infotext: str | None = None) -> str:
    return base64.b64encode(png_bytes(image, infotext)).decode()


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def test_txt2img_answers_like_a1111(client):
    r = client.post("/sdapi/v1/txt2img", json={**TINY, "batch_size": 2, "unknown_field": 1})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"images", "parameters", "info"}
    assert len(body["images"]) == 2 and not body["images"][0].startswith("data:")
    first = decode(body["images"][0])
    assert first.size == (64, 64) and "Seed: 11" in first.info["parameters"]
    info = json.loads(body["info"])
    assert info["all_seeds"] == [11, 12] and info["prompt"] == "a red cube" and info["sampler_name"] == "Euler"
    assert body["parameters"]["prompt"] == "a red cube" and body["parameters"]["steps"] == 2
    assert "unknown_field" not in body["parameters"]


def test_sampler_index_is_used_when_sampler_name_is_unset(client):
    payload = {k: v for k, v in TINY.items() if k != "sampler_name"}
    info = json.loads(client.post("/sdapi/v1/txt2img", json={**payload, "sampler_index": "Euler a"}).json()["info"])
    assert info["sampler_name"] == "Euler a"
    assert json.loads(client.post("/sdapi/v1/txt2img", json=payload).json()["info"])["sampler_name"] == "Euler"


def test_override_settings_apply_to_one_request_only(client):
    before = client.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"]
    body = client.post("/sdapi/v1/txt2img", json={**TINY, "override_settings": {"CLIP_stop_at_last_layers": 2}})
    assert json.loads(body.json()["info"])["clip_skip"] == 2
    assert client.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == before
    kept = {**TINY, "override_settings": {"CLIP_stop_at_last_layers": 2},
            "override_settings_restore_afterwards": False}
    assert client.post("/sdapi/v1/txt2img", json=kept).status_code == 200
    assert client.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 2


def test_infotext_fills_fields_the_request_left_unset(client):
    infotext = "a blue ball\nNegative prompt: ugly\nSteps: 3, Sampler: Euler a, CFG scale: 5, Seed: 99, Size: 64x64"
    r = client.post("/sdapi/v1/txt2img", json={"infotext": infotext, "steps": 2})
    info = json.loads(r.json()["info"])
    assert (info["prompt"], info["negative_prompt"], info["seed"]) == ("a blue ball", "ugly", 99)
    assert (info["steps"], info["sampler_name"], info["cfg_scale"]) == (2, "Euler a", 5.0)


def test_infotext_is_read_with_the_infotext_settings(client):
    """A1111's Infotext settings apply to the API's `infotext`: a disregarded field is not taken, and a style
    whose text is in the prompt becomes the job's style (`infotext_styles` "Apply if any")."""
    client.app_under_test.services.styles.set(PromptStyle("Shiny", "{prompt}, shiny", ""))
    infotext = "a blue ball, shiny\nSteps: 3, Sampler: Euler a, CFG scale: 5, Seed: 99, Size: 64x64"
    assert client.post("/sdapi/v1/options", json={"infotext_skip_pasting": ["Seed"]}).status_code == 200
    try:
        info = json.loads(client.post("/sdapi/v1/txt2img", json={"infotext": infotext, "steps": 1}).json()["info"])
    finally:
        client.post("/sdapi/v1/options", json={"infotext_skip_pasting": []})
    assert info["seed"] != 99 and info["styles"] == ["Shiny"] and info["prompt"] == "a blue ball"
    assert info["infotexts"][0].startswith("a blue ball, shiny\n")  # the style applied again


def test_a_pasted_model_hash_picks_the_checkpoint_only_when_auto_swap_is_on(client):
    first = client.post("/sdapi/v1/txt2img", json={**TINY, "steps": 1}).json()
    infotext = json.loads(first["info"])["infotexts"][0]
    unknown = infotext.replace("Model hash: ", "Model hash: 00").replace(", Model: ", "0, Model: ")
    assert client.post("/sdapi/v1/txt2img", json={"infotext": unknown, "steps": 1}).status_code == 200  # ignored
    assert client.post("/sdapi/v1/options", json={"disable_weights_auto_swap": False}).status_code == 200
    try:
        known = client.post("/sdapi/v1/txt2img", json={"infotext": infotext, "steps": 1})
        refused = client.post("/sdapi/v1/txt2img", json={"infotext": unknown, "steps": 1})
    finally:
        client.post("/sdapi/v1/options", json={"disable_weights_auto_swap": True})
    assert known.status_code == 200
    assert json.loads(known.json()["info"])["sd_model_hash"] == json.loads(first["info"])["sd_model_hash"]
    assert refused.status_code in (404, 422) and "sd_model_checkpoint" in refused.text


def test_the_hires_checkpoint_dropdowns_first_entry_is_accepted(client):
    body = {**TINY, "enable_hr": True, "denoising_strength": 0.5, "hr_scale": 1.5, "steps": 1,
            "hr_checkpoint_name": "Use same checkpoint"}
    assert client.post("/sdapi/v1/txt2img", json=body).status_code == 200


def test_send_images_false_and_progress_when_idle(client):
    body = client.post("/sdapi/v1/txt2img", json={**TINY, "send_images": False}).json()
    assert body["images"] == []
    progress = client.get("/sdapi/v1/progress").json()
    assert progress["progress"] == 0 and progress["state"]["job_count"] == 0 and progress["current_image"] is None
    assert client.post("/sdapi/v1/interrupt").json() == {} and client.post("/sdapi/v1/skip").json() == {}


def test_png_info_reads_back_the_infotext(client):
    text = "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 64x64"
    image = Image.new("RGB", (8, 8))
    r = client.post("/sdapi/v1/png-info", json={"image": "data:image/png;base64," + b64_png(image, text)})
    assert r.status_code == 200
    assert r.json()["info"] == text and r.json()["parameters"]["Seed"] == "5"
    assert client.post("/sdapi/v1/png-info", json={"image": b64_png(image)}).json()["info"] == ""


def test_extras_resize_with_builtin_upscalers(client):
    image = Image.new("RGB", (20, 10), (200, 10, 10))
    r = client.post("/sdapi/v1/extra-single-image",
                    json={"image": b64_png(image), "upscaler_1": "Lanczos", "upscaling_resize": 2})
    assert r.status_code == 200 and decode(r.json()["image"]).size == (40, 20)
    r = client.post("/sdapi/v1/extra-single-image",
                    json={"image": b64_png(image), "upscaler_1": "Nearest", "resize_mode": 1,
                          "upscaling_resize_w": 30, "upscaling_resize_h": 30, "upscaling_crop": True})
    assert decode(r.json()["image"]).size == (30, 30)
    r = client.post("/sdapi/v1/extra-batch-images",
                    json={"imageList": [{"data": b64_png(image), "name": "a"}] * 2, "upscaler_1": "Lanczos",
                          "upscaler_2": "Nearest", "extras_upscaler_2_visibility": 0.5, "upscaling_resize": 1.5})
    assert [decode(i).size for i in r.json()["images"]] == [(30, 15), (30, 15)]
    r = client.post("/sdapi/v1/extra-single-image", json={"image": b64_png(image), "upscaler_1": "4x-Nope"})
    assert r.status_code == 422 and "upscaler_1" in r.json()["errors"] and "Lanczos" in r.json()["errors"]
    r = client.post("/sdapi/v1/extra-single-image", json={"image": b64_png(image), "gfpgan_visibility": 1})
    assert r.status_code == 422 and "face restoration" in r.json()["errors"]


def test_img2img_with_a_mask(client):
    init = Image.new("RGB", (64, 64), (30, 120, 200))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    payload = {**TINY, "init_images": ["data:image/png;base64," + b64_png(init)], "mask": b64_png(mask),
               "denoising_strength": 0.6, "inpaint_full_res": False}
    r = client.post("/sdapi/v1/img2img", json=payload)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    out = decode(body["images"][0]).convert("RGB")
    assert out.size == (64, 64) and "Denoising strength: 0.6" in out.info["parameters"]
    assert out.getpixel((2, 2)) == (30, 120, 200)  # outside the mask the init image is kept
    assert body["parameters"]["init_images"] is None and json.loads(body["info"])["all_seeds"] == [11]


def test_img2img_mistakes(client):
    good = b64_png(Image.new("RGB", (64, 64)))
    cases = [({}, "init_images", "no init image"),
             ({"init_images": ["@@@"]}, "init_images[0]", "not valid base64"),
             ({"init_images": [good], "mask": "aGVsbG8="}, "mask", "not an image"),
             ({"init_images": [good], "denoising_strength": 3}, "denoising_strength", "out of range"),
             ({"init_images": good}, "init_images", "list")]
    for change, field, words in cases:
        r = client.post("/sdapi/v1/img2img", json={**TINY, **change})
        assert r.status_code == 422 and field in r.json()["errors"] and words in r.json()["errors"], r.text[:300]


def test_setting_the_checkpoint_loads_it(client):
    title = client.get("/sdapi/v1/sd-models").json()[0]["title"]
    client.post("/sdapi/v1/unload-checkpoint")
    assert client.post("/sdapi/v1/options", json={"sd_model_checkpoint": "tiny-sd1-0"}).status_code == 200
    shown = client.get("/sdapi/v1/options").json()["sd_model_checkpoint"]  # the title, with its hash once loaded
    assert shown.startswith(title) and shown == client.get("/sdapi/v1/sd-models").json()[0]["title"]
    assert client.app_under_test.models.current.checkpoint.model_name == "tiny-sd1-0"


def test_list_routes_show_what_is_on_disk(client):
    from safetensors.torch import save_file
    import torch

    app = client.app_under_test
    app.paths.lora_dir.mkdir(parents=True, exist_ok=True)
    save_file({"lora_unet_x.alpha": torch.tensor(1.0)}, str(app.paths.lora_dir / "shiny.safetensors"),
              metadata={"ss_output_name": "shiny_v2"})
    app.paths.styles_csv.write_text("name,prompt,negative_prompt\nfancy,{prompt} fancy,ugly\n", encoding="utf-8")
    assert client.post("/sdapi/v1/refresh-loras").status_code == 200
    loras = client.get("/sdapi/v1/loras").json()
    assert [(x["name"], x["alias"]) for x in loras] == [("shiny", "shiny_v2")]
    app.services.styles.reload()
    assert client.get("/sdapi/v1/prompt-styles").json() == [
        {"name": "fancy", "prompt": "{prompt} fancy", "negative_prompt": "ugly"}]
    assert set(client.get("/sdapi/v1/embeddings").json()) == {"loaded", "skipped"}
    assert "Latent" in [m["name"] for m in client.get("/sdapi/v1/latent-upscale-modes").json()]
    memory = client.get("/sdapi/v1/memory").json()
    assert memory["ram"]["total"] > 0 and "cuda" in memory
