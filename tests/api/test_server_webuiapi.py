"""The registry client `webuiapi` (a real A1111 client) drives a real Easel server, with and without --api-auth;
ten of them at once get their own results."""
from __future__ import annotations

import threading
import time

import pytest
import requests
import webuiapi
from PIL import Image

from tests.api.server_process import ServerProcess, data_dir_with

SMALL = {"width": 64, "height": 64, "steps": 2}


@pytest.fixture(scope="module")
def server(tiny_checkpoint, tmp_path_factory):
    proc = ServerProcess(data_dir_with(tiny_checkpoint, tmp_path_factory.mktemp("api-server")))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def auth_server(tiny_checkpoint, tmp_path_factory):
    proc = ServerProcess(data_dir_with(tiny_checkpoint, tmp_path_factory.mktemp("api-auth-server")),
                         "--api-auth", "ann:s3cret", auth=("ann", "s3cret"))
    yield proc
    proc.stop()


def client_for(proc) -> webuiapi.WebUIApi:
    if proc.auth:
        return webuiapi.WebUIApi(port=proc.port, sampler="Euler", steps=2, username=proc.auth[0],
                                 password=proc.auth[1])
    return webuiapi.WebUIApi(port=proc.port, sampler="Euler", steps=2)


def exercise(api: webuiapi.WebUIApi) -> None:
    """Everything the issue lists, through the client's own methods."""
    result = api.txt2img(prompt="a red cube", seed=42, **SMALL)
    assert result.image.size == (64, 64) and result.info["all_seeds"] == [42]
    assert result.parameters["prompt"] == "a red cube"
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    result = api.img2img(images=[result.image], mask_image=mask, prompt="a blue cube", seed=7,
                         denoising_strength=0.5, **SMALL)
    assert result.image.size == (64, 64) and result.info["all_seeds"] == [7]
    assert "Denoising strength: 0.5" in result.info["infotexts"][0]
    assert api.extra_single_image(result.image, upscaler_1="Lanczos", upscaling_resize=2).image.size == (128, 128)
    info = api.png_info(result.image)
    assert info.info.startswith("a blue cube") and info.json["parameters"]["Seed"] == "7"
    assert api.get_options()["CLIP_stop_at_last_layers"] == 1
    api.set_options({"CLIP_stop_at_last_layers": 2})
    assert api.get_options()["CLIP_stop_at_last_layers"] == 2
    api.set_options({"CLIP_stop_at_last_layers": 1})
    titles = api.util_get_model_names()
    [title] = [t for t in titles if t.startswith("tiny-sd1-0.safetensors [")]
    assert any(t.startswith("easel-builtin") for t in titles)  # the install folder's model is always listed
    assert api.get_sd_models()[0]["model_name"] == "tiny-sd1-0"
    api.util_set_model("tiny-sd1-0")
    assert api.util_get_current_model() == title
    assert "Euler a" in api.util_get_sampler_names() and "karras" in api.util_get_scheduler_names()
    assert [u["name"] for u in api.get_upscalers()][:3] == ["None", "Lanczos", "Nearest"]


def interrupt_while_polling(api: webuiapi.WebUIApi) -> None:
    """Poll /progress while a long job runs, interrupt it, and poll until the server is idle again."""
    outcome = {}

    def long_job():
        start = time.time()
        outcome["result"] = api.txt2img(prompt="slow", seed=1, width=64, height=64, steps=1000, n_iter=4)
        outcome["seconds"] = time.time() - start

    thread = threading.Thread(target=long_job)
    thread.start()
    seen, deadline = [], time.time() + 60
    while time.time() < deadline and thread.is_alive():
        progress = api.get_progress()
        if progress["state"]["sampling_step"] > 2:
            seen.append(progress["progress"])
            if len(seen) >= 2:
                break
        time.sleep(0.05)
    assert seen and 0 < seen[0] < 1 and seen[-1] >= seen[0]
    api.interrupt()
    thread.join(60)
    assert not thread.is_alive() and outcome["seconds"] < 60
    assert outcome["result"].info["all_seeds"][0] == 1 and len(outcome["result"].images) < 4
    idle = api.get_progress()
    assert idle["progress"] == 0 and idle["state"]["job_count"] == 0


def test_webuiapi_without_auth(server):
    api = client_for(server)
    exercise(api)
    interrupt_while_polling(api)


def test_webuiapi_with_auth(auth_server):
    exercise(client_for(auth_server))
    interrupt_while_polling(client_for(auth_server))
    assert requests.get(auth_server.url + "/sdapi/v1/options", timeout=10).status_code == 401
    with pytest.raises(RuntimeError, match="401"):
        webuiapi.WebUIApi(port=auth_server.port, username="ann", password="wrong").txt2img(prompt="x", **SMALL)


def test_bad_requests_leave_the_server_serving(server):
    big = b'{"prompt": "' + b"A" * (50 * 1024 * 1024) + b'"}'
    r = requests.post(server.url + "/sdapi/v1/txt2img", data=big, headers={"content-type": "application/json"},
                      timeout=60)
    assert r.status_code == 413 and "api_max_request_mb" in r.json()["detail"]
    r = requests.post(server.url + "/sdapi/v1/img2img", json={"init_images": ["garbage!"], **SMALL}, timeout=60)
    assert r.status_code == 422 and "init_images[0]" in r.json()["errors"]
    assert client_for(server).txt2img(prompt="still here", seed=3, **SMALL).info["all_seeds"] == [3]


@pytest.mark.slow
def test_ten_clients_twenty_jobs_each_all_complete_with_their_own_result(server):
    results, errors = {}, []

    def client(c: int):
        api = webuiapi.WebUIApi(port=server.port, sampler="Euler", steps=2)
        for j in range(20):
            seed, prompt = 1000 * c + j, f"client {c} job {j}"
            try:
                r = api.txt2img(prompt=prompt, seed=seed, width=64, height=64, steps=2)
                results[(c, j)] = (r.info["prompt"], r.info["all_seeds"], r.info["infotexts"][0], len(r.images))
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(f"{c}/{j}: {e}")

    start = time.time()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    elapsed = time.time() - start
    assert not errors, errors[:3]
    assert len(results) == 200
    for (c, j), (prompt, seeds, infotext, n_images) in results.items():
        assert prompt == f"client {c} job {j}" and seeds == [1000 * c + j] and n_images == 1
        assert infotext.startswith(prompt + "\n") and f"Seed: {1000 * c + j}," in infotext
    print(f"200 jobs from 10 clients in {elapsed:.1f} s ({200 / elapsed:.1f} jobs/s)")
