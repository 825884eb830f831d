"""Network preprocessors on the user's own annotator files: always listed, refused naming the file and folder while
a file is missing (422 on the API), loaded from the original layouts in Easel's folder or the extension's, and a
foreign or malicious file refused naming it."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from modules.controlnet.detect import run_preprocessor
from modules.controlnet.preprocessors import PREPROCESSORS, UNAVAILABLE
from modules.controlnet.preprocessors.annotator_files import annotator_roots
from modules.controlnet.preprocessors.depth.midas import build_midas, depth_to_map
from modules.controlnet.preprocessors.network_io import pad_edges
from modules.controlnet.preprocessors.networks import with_networks
from modules.errors import EaselError, InvalidInput
from modules.paths import Paths
from tests.api.conftest import TINY, make_client
from tests.api.test_controlnet_api import b64, control_image
from tests.fixtures.annotator_weights import write_annotators

EXTENSION_DOWNLOADS = Path("extensions") / "sd-webui-controlnet" / "annotator" / "downloads"


def picture(h: int = 80, w: int = 120) -> Image.Image:
    return Image.fromarray((np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A data dir whose body and depth files sit in the extension's downloads folder (the second place looked in)."""
    root = tmp_path_factory.mktemp("annotators")
    write_annotators(root / EXTENSION_DOWNLOADS, which=("body", "midas"))
    return root


def test_listed_without_files_and_refused_naming_the_path(tmp_path):
    registry = with_networks(PREPROCESSORS, UNAVAILABLE, annotator_roots(Paths(data_dir=tmp_path)))
    variants = {"openpose", "openpose_hand", "openpose_face", "openpose_faceonly", "openpose_full"}
    assert {"depth", *variants} <= set(registry.names())
    assert not {u.name for u in registry.unavailable()} & {"depth", "depth_midas", *variants}
    assert "depth_midas" in registry.names(labels=True)
    assert registry.lookup("openpose_full").priority == 100  # the OpenPose type's default, as in the extension
    assert [s["name"] for s in registry.lookup("depth").detail()["sliders"]] == ["Resolution"]
    with pytest.raises(InvalidInput) as refused:
        registry.get("depth_midas", "controlnet.args[0].module")
    text = str(refused.value)
    assert "controlnet.args[0].module" in text and "depth" in text
    assert f"dpt_hybrid-midas-501f0c75.pt in {tmp_path / 'models' / 'annotator' / 'midas'}/" in text


def test_only_the_missing_file_is_named(data_dir):
    registry = with_networks(PREPROCESSORS, UNAVAILABLE, annotator_roots(Paths(data_dir=data_dir)))
    assert registry.get("openpose").name == "openpose"  # the body file is there
    with pytest.raises(InvalidInput, match="openpose_hand preprocessor needs hand_pose_model.pth in") as refused:
        registry.get("openpose_hand")
    assert "body_pose_model.pth" not in str(refused.value)


def test_depth_map_from_the_extension_folder(data_dir):
    registry = with_networks(PREPROCESSORS, UNAVAILABLE, annotator_roots(Paths(data_dir=data_dir)))
    detected = run_preprocessor(registry, "depth_midas", picture(), processor_res=64)
    assert detected.shape == (64, 96, 3) and detected.dtype == np.uint8
    assert (detected[:, :, 0] == detected[:, :, 2]).all()
    # The same network by hand: scaled to 64 px, edge-padded to 64×128, min-max over the padded frame, cropped.
    path = data_dir / EXTENSION_DOWNLOADS / "midas" / "dpt_hybrid-midas-501f0c75.pt"
    net = build_midas([torch.load(path, weights_only=True)], path)
    small = np.asarray(picture().resize((96, 64), Image.Resampling.BOX))
    x = torch.from_numpy(pad_edges(small)).float().permute(2, 0, 1)[None] / 127.5 - 1.0
    with torch.no_grad():
        depth = net(x)[0].numpy()  # [64, 128]
    assert depth.shape == (64, 128) and np.ptp(depth) > 0
    assert np.abs(detected[:, :, 0].astype(int) - depth_to_map(depth)[:, :96]).max() <= 1


def test_openpose_runs_on_the_body_file(data_dir):
    registry = with_networks(PREPROCESSORS, UNAVAILABLE, annotator_roots(Paths(data_dir=data_dir)))
    detected = run_preprocessor(registry, "openpose", picture(), processor_res=64)
    assert detected.shape == (64, 96, 3) and detected.dtype == np.uint8


class Payload:
    def __reduce__(self):
        return os.system, ("echo pwned",)


@pytest.mark.parametrize("content,says", [("hand", "not an OpenPose body file"), ("evil", "body_pose_model.pth")])
def test_a_foreign_or_malicious_file_is_refused_naming_it(tmp_path, content, says):
    folder = tmp_path / "models" / "annotator" / "openpose"
    if content == "hand":
        write_annotators(tmp_path / "models" / "annotator", which=("hand",))
        (folder / "hand_pose_model.pth").rename(folder / "body_pose_model.pth")
    else:
        folder.mkdir(parents=True)
        torch.save({"conv1_1.weight": Payload()}, folder / "body_pose_model.pth")
    registry = with_networks(PREPROCESSORS, UNAVAILABLE, annotator_roots(Paths(data_dir=tmp_path)))
    with pytest.raises(EaselError, match=says) as refused:
        run_preprocessor(registry, "openpose", picture(), processor_res=64)
    assert str(folder / "body_pose_model.pth") in str(refused.value)


def test_api_lists_the_module_and_answers_422_naming_the_file(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint) as client:
        listing = client.get("/controlnet/module_list").json()
        assert {"depth", "openpose", "openpose_hand", "openpose_full"} <= set(listing["module_list"])
        wanted = str(tmp_path / "models" / "annotator" / "openpose")
        detect = client.post("/controlnet/detect", json={"controlnet_module": "openpose",
                                                          "controlnet_input_images": [b64(control_image())]})
        assert detect.status_code == 422 and "controlnet_module" in detect.text and wanted in detect.text
        unit = {"module": "depth_midas", "model": "None", "image": b64(control_image())}
        response = client.post("/sdapi/v1/txt2img", json={**TINY, "alwayson_scripts": {"controlnet": {"args": [unit]}}})
        assert response.status_code == 422, response.text
        assert "controlnet.args[0].module" in response.text and "dpt_hybrid-midas-501f0c75.pt" in response.text


def test_the_ui_shows_what_is_missing_and_infotext_still_resolves_sliders():
    from modules.controlnet.infotext import resolved
    from modules.controlnet.preprocessors import default_registry
    from modules.controlnet.units import ControlUnit
    from modules.ui import controlnet_panel

    registry = default_registry()  # no folders: every annotator file is missing
    assert registry.lookup("depth").choice_label == "depth_midas (missing dpt_hybrid-midas-501f0c75.pt)"
    assert registry.lookup("canny").choice_label == "canny"
    modules, _ = controlnet_panel.type_filter(registry, [], "OpenPose")
    assert ("openpose (missing body_pose_model.pth)", "openpose") in modules["choices"]
    assert resolved(ControlUnit(module="depth", processor_res=-1), registry).processor_res == 512


def test_networks_are_built_once_per_file_version(tmp_path):
    from modules.controlnet.preprocessors.annotator_files import NetworkCache

    path = tmp_path / "net.pth"
    torch.save({"w": torch.ones(2)}, path)
    builds: list[float] = []

    def build(states):
        builds.append(float(states[0]["w"][0]))
        return object()

    cache = NetworkCache(capacity=1)
    first = cache.get((path,), build)
    assert cache.get((path,), build) is first and builds == [1.0]
    torch.save({"w": torch.full((3,), 2.0)}, path)  # replaced: another size, another date
    assert cache.get((path,), build) is not first and builds == [1.0, 2.0]
