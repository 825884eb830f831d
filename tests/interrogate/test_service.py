"""Interrogators: models stay loaded, a replaced file is reloaded, and the keep-in-VRAM setting decides whether
they leave the GPU after a request (checked with a recording stand-in, so no GPU is needed)."""
from __future__ import annotations

import os

from PIL import Image

from modules.interrogate import InterrogateRequest, Interrogators
from modules.interrogate import deepbooru as deepbooru_module
from modules.options import Options


class RecordingNet:
    def __init__(self):
        self.moves = []

    def to(self, device):
        self.moves.append(str(device))
        return self


class FakeModel:
    def __init__(self):
        self.net = RecordingNet()


def opts(**changes):
    options = Options(None)
    options.update(changes, save=False)
    return options.snapshot()


def test_models_leave_the_gpu_unless_kept(tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(deepbooru_module, "load_deepbooru", lambda *a, **k: loads.append(1) or FakeModel())
    monkeypatch.setattr(deepbooru_module, "tag_probabilities", lambda model, image: [("cat", 0.9)])
    (tmp_path / "torch_deepdanbooru").mkdir()
    (tmp_path / "torch_deepdanbooru" / "model-resnet_custom_v3.pt").write_bytes(b"x")
    service = Interrogators(tmp_path, lambda: "cuda:0")
    request = InterrogateRequest(Image.new("RGB", (8, 8)), "deepdanbooru")

    assert service.run(request, opts()).caption == "cat"
    net = service._loaded["deepbooru"][1].net
    assert net.moves == ["cuda:0", "cpu"]
    service.run(request, opts(interrogate_keep_models_in_memory=True))
    assert net.moves == ["cuda:0", "cpu", "cuda:0"] and len(loads) == 1

    path = tmp_path / "torch_deepdanbooru" / "model-resnet_custom_v3.pt"
    os.utime(path, (1, 1))  # a replaced file: loaded again
    service.run(request, opts())
    assert len(loads) == 2
