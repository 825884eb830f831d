"""The A1111 names queue extensions build on (sd-webui-agent-scheduler): `modules.progress`'s task record,
`modules.txt2img`/`modules.img2img` with A1111's parameter lists, `modules.api.api.Api` generating from an
extension's own thread, pydantic 1's `__config__` on the API models, Gradio 3's `Blocks.dependencies`, and
`modules.textual_inversion.dataset.re_numbers_at_start` (dataset caption tools)."""
from __future__ import annotations

import importlib

import base64
import inspect
import io
import json
import threading

import pytest
from PIL import Image

from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def bound(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("a1111-queue"), tiny_checkpoint, "--nowebui")
    start(app, [])
    yield app
    app.jobs.close()
    stop(app)


def test_progress_records_a_task_from_queued_to_finished(bound):
    from modules import progress

    task = progress.create_task_id("txt2img")
    assert task.startswith("task(txt2img-") and len(task) == len("task(txt2img-)") + 7
    progress.add_task_to_queue(task)
    assert task in progress.pending_tasks and progress.current_task is None
    progress.start_task(task)
    assert progress.current_task == task and task not in progress.pending_tasks
    progress.finish_task(task)
    assert progress.current_task is None and progress.finished_tasks[-1] == task


def test_txt2img_and_img2img_have_a1111s_parameter_lists(bound):
    from modules import img2img, txt2img

    names = inspect.getfullargspec(txt2img.txt2img_create_processing).args
    assert names[:5] == ["id_task", "request", "prompt", "negative_prompt", "prompt_styles"]
    assert names[-3:] == ["hr_prompt", "hr_negative_prompt", "override_settings_texts"]
    names = inspect.getfullargspec(img2img.img2img).args
    assert names[:4] == ["id_task", "request", "mode", "prompt"] and names[-1] == "img2img_batch_upload"


def test_txt2img_runs_a_generation_with_a1111s_outputs(bound):
    from modules import txt2img

    p = txt2img.txt2img_create_processing("task(x)", None, "a red circle", "", [], 1, 1, 5.0, 64, 64, False, 0.7, 2.0,
                                          "Latent", 0, 0, 0, "Use same checkpoint", "Use same sampler",
                                          "Use same scheduler", "", "", ["Clip skip: 2"])
    assert p.hr_checkpoint_name is None and p.override_settings == {"CLIP_stop_at_last_layers": 2}
    images, info, html_info, _ = txt2img.txt2img("task(x)", None, "a red circle", "", [], 1, 1, 5.0, 64, 64, False,
                                                 0.7, 2.0, "Latent", 0, 0, 0, "Use same checkpoint",
                                                 "Use same sampler", "Use same scheduler", "", "", [], 0)
    assert len(images) == 1 and images[0].size == (64, 64)
    assert "a red circle" in json.loads(info)["infotexts"][0] and "a red circle" in html_info


def test_img2img_refuses_a_batch_from_a_folder(bound):
    from modules import img2img
    from modules.errors import InvalidInput

    with pytest.raises(InvalidInput, match="mode"):
        img2img.image_and_mask(5, None, None, None, None, None, None, None, 0, 4)


def test_api_object_generates_from_an_extensions_thread(bound):
    from fastapi import FastAPI

    Api = importlib.import_module("modules.api.api").Api  # A1111's names, made by the compat layer at run time
    models = importlib.import_module("modules.api.models")
    StableDiffusionTxt2ImgProcessingAPI = models.StableDiffusionTxt2ImgProcessingAPI
    queue_lock = importlib.import_module("modules.call_queue").queue_lock

    api = Api(FastAPI(), queue_lock)
    request = StableDiffusionTxt2ImgProcessingAPI(prompt="a blue square", steps=2, width=64, height=64, seed=3)
    answers = []
    worker = threading.Thread(target=lambda: answers.append(api.text2imgapi(request)))
    worker.start()
    worker.join(120)
    answer = answers[0]
    assert json.loads(answer.info)["infotexts"][0].startswith("a blue square")
    assert Image.open(io.BytesIO(base64.b64decode(answer.images[0]))).size == (64, 64)


def test_api_models_carry_pydantic_1s_config_class(bound):
    from pydantic import Field

    models = importlib.import_module("modules.api.models")
    StableDiffusionImg2ImgProcessingAPI = models.StableDiffusionImg2ImgProcessingAPI
    StableDiffusionTxt2ImgProcessingAPI = models.StableDiffusionTxt2ImgProcessingAPI

    class QueuedTxt2Img(StableDiffusionTxt2ImgProcessingAPI):
        checkpoint: str | None = Field(None)

        class Config(StableDiffusionTxt2ImgProcessingAPI.__config__):
            pass

    assert QueuedTxt2Img(prompt="x", checkpoint="a").checkpoint == "a"
    assert StableDiffusionImg2ImgProcessingAPI.__config__ is StableDiffusionTxt2ImgProcessingAPI.__config__


def test_blocks_list_their_listeners_as_gradio_3_did(bound):
    import gradio as gr

    with gr.Blocks() as blocks:
        box = gr.Textbox()
        button = gr.Button()
        button.click(lambda x: x, inputs=[box], outputs=[box])
        box.change(lambda x: x, inputs=[box], outputs=[])
    clicks = [d for d in blocks.dependencies if d["trigger"] == "click" and button._id in d["targets"]]
    assert [(d["inputs"], d["outputs"]) for d in clicks] == [([box._id], [box._id])]
    assert [d["trigger"] for d in blocks.dependencies] == ["click", "change"]


def test_dataset_number_prefix(bound):
    dataset = importlib.import_module("modules.textual_inversion.dataset")

    assert dataset.re_numbers_at_start.sub("", "00012-3 a cat") == "a cat"
    with pytest.raises(AttributeError, match="embedding training"):
        _ = dataset.PersonalizedBase
