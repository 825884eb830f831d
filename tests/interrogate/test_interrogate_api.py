"""POST /sdapi/v1/interrogate end to end on tiny models: DeepBooru tags shaped by each option, CLIP caption with
the rigged phrase, and the 422s and 400s a user can cause."""
from __future__ import annotations

import base64
import io
import os
import shutil

import pytest
import torch
from PIL import Image

from modules.interrogate import clip_caption
from tests.api.conftest import make_client
from tests.interrogate.conftest import write_deepbooru

TAGS = {"red_hat": 0.6, "blue_sky": 0.9, "rating:safe": 0.99, "hat_(object)": 0.75, "cat": 0.2}


def png_b64(color=(200, 30, 30), size=(48, 40)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture
def client(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint) as c:
        c.models_dir = tmp_path / "models"
        yield c


def ask(client, model="deepdanbooru", **options):
    if options:
        client.app_under_test.options.update(options, save=False)
    return client.post("/sdapi/v1/interrogate", json={"image": png_b64(), "model": model})


@pytest.mark.parametrize("options, caption", [
    ({}, r"blue sky, hat \(object\), red hat"),
    ({"deepbooru_sort_alpha": False}, r"blue sky, hat \(object\), red hat"),
    ({"deepbooru_sort_alpha": False, "interrogate_deepbooru_score_threshold": 0.1},
     r"blue sky, hat \(object\), red hat, cat"),
    ({"interrogate_deepbooru_score_threshold": 0.7}, r"blue sky, hat \(object\)"),
    ({"deepbooru_use_spaces": False}, r"blue_sky, hat_\(object\), red_hat"),
    ({"deepbooru_escape": False}, "blue sky, hat (object), red hat"),
    ({"deepbooru_filter_tags": "red hat, blue_sky"}, r"hat \(object\)"),
    ({"interrogate_return_ranks": True, "deepbooru_escape": False},
     "(blue sky:0.900), (hat (object):0.750), (red hat:0.600)"),
])
def test_deepbooru_tags_follow_the_options(client, options, caption):
    write_deepbooru(client.models_dir, TAGS)
    response = ask(client, **options)
    assert response.status_code == 200, response.text
    assert response.json() == {"caption": caption}


def test_deepbooru_sorts_by_score_when_asked(client):
    write_deepbooru(client.models_dir, {"a_tag": 0.55, "b_tag": 0.95, "c_tag": 0.75})
    assert ask(client).json()["caption"] == "a tag, b tag, c tag"
    assert ask(client, deepbooru_sort_alpha=False).json()["caption"] == "b tag, c tag, a tag"


def test_missing_deepbooru_file_is_422_naming_folder_and_file(client):
    response = ask(client)
    assert response.status_code == 422
    text = response.text
    assert "model-resnet_custom_v3.pt" in text and "torch_deepdanbooru" in text


def test_unknown_model_is_422_listing_valid_models(client):
    response = client.post("/sdapi/v1/interrogate", json={"image": png_b64(), "model": "blip"})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["field"] == "model" and "clip, deepdanbooru" in detail["msg"]


def test_bad_image_is_422_naming_the_field(client):
    response = client.post("/sdapi/v1/interrogate", json={"image": "not base64!", "model": "deepdanbooru"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "image"


def test_corrupt_file_is_a_clear_error(client):
    folder = client.models_dir / "torch_deepdanbooru"
    folder.mkdir(parents=True)
    (folder / "model-resnet_custom_v3.pt").write_bytes(b"this is not a checkpoint" * 10)
    response = ask(client)
    assert response.status_code == 400
    assert "model-resnet_custom_v3.pt" in response.text and "not a readable" in response.text


def test_wrong_state_dict_is_a_clear_error(client):
    folder = client.models_dir / "torch_deepdanbooru"
    folder.mkdir(parents=True)
    torch.save({"n_Conv_0.weight": torch.zeros(2, 3, 7, 7), "tags": ["a"]}, folder / "model-resnet_custom_v3.pt")
    response = ask(client)
    assert response.status_code == 400 and "n_Conv_1.weight" in response.text


class Planted:
    """Pickles to a call of os.mkdir: loading it unrestricted would create the folder."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return os.mkdir, (self.target,)


def test_malicious_file_is_refused_and_nothing_runs(client, tmp_path):
    folder = client.models_dir / "torch_deepdanbooru"
    folder.mkdir(parents=True)
    marker = tmp_path / "planted"
    torch.save({"tags": ["a"], "x": Planted(marker)}, folder / "model-resnet_custom_v3.pt")
    response = ask(client)
    assert response.status_code == 400 and "os.mkdir" in response.text.replace("posix.mkdir", "os.mkdir")
    assert not marker.exists()


def test_clip_without_blip_is_422_naming_the_folder(client):
    response = ask(client, model="clip")
    assert response.status_code == 422 and "BLIP" in response.text and "config.json" in response.text


def test_clip_caption_ends_with_the_winning_phrase(client, hf_models, monkeypatch):
    monkeypatch.setattr(clip_caption, "TEXT_BATCH", 2)  # phrases encoded in two batches of different lengths
    shutil.copytree(hf_models, client.models_dir, dirs_exist_ok=True)
    categories = client.models_dir / "interrogate"
    categories.mkdir()
    (categories / "mediums.txt").write_text("watercolor\npencil sketch of a long road\noil painting\n",
                                            encoding="utf-8")
    (categories / "skipped.txt").write_text("never shown\n", encoding="utf-8")
    (categories / "flavors.top2.txt").write_text("gloomy\noil painting\nbright\n", encoding="utf-8")
    options = {"interrogate_clip_min_length": 2, "interrogate_clip_max_length": 6,
               "interrogate_clip_skip_categories": ("skipped",)}
    response = ask(client, model="clip", **options)
    assert response.status_code == 200, response.text
    caption = response.json()["caption"]
    assert caption.endswith(", oil painting") and "never shown" not in caption
    flavors = caption.split(", ")[-3:-1]  # flavors.top2 comes first (files by name) and adds two phrases
    assert flavors[0] == "oil painting" and flavors[1] in ("gloomy", "bright")
    ranked = ask(client, model="clip", interrogate_return_ranks=True).json()["caption"]
    assert "(oil painting:" in ranked


def test_clip_with_categories_but_no_clip_model_is_422(client, hf_models):
    shutil.copytree(hf_models / "BLIP", client.models_dir / "BLIP")
    (client.models_dir / "interrogate").mkdir()
    (client.models_dir / "interrogate" / "mediums.txt").write_text("oil painting\n", encoding="utf-8")
    response = ask(client, model="clip")
    assert response.status_code == 422 and "CLIP" in response.text
