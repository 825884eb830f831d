"""ControlNet files: the layouts Easel reads, the names it lists them under, and the files it refuses."""
from __future__ import annotations

import os
import pickle
import shutil

import pytest
import torch
from safetensors.torch import save_file

from modules.controlnet.library import ControlNetLibrary, controlnet_dirs, find_controlnets, legacy_hash
from modules.controlnet.model import load_controlnet
from modules.errors import InvalidInput, ModelLoadError
from modules.paths import Paths
from tests.fixtures.tiny_controlnet import (make_diffusers_controlnet, make_tiny_controlnet, original_state_dict,
                                            tiny_controlnet_model, tiny_controlnet_yaml)
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    return make_app(tmp_path_factory.mktemp("cn-model"), tiny_checkpoint, "--precision", "full")


@pytest.fixture(scope="module")
def unet(app):
    return app.models.get(None).unet


@pytest.fixture(scope="module")
def reference():
    return tiny_controlnet_model(tiny_controlnet_yaml()).state_dict()


def _same(net, reference) -> None:
    ours = net.state_dict()
    assert set(ours) == set(reference)
    assert all(torch.equal(ours[k], reference[k]) for k in reference)


@pytest.mark.parametrize("fmt,prefix,with_yaml", [("pth", "control_model.", True), ("safetensors", "", True),
                                                  ("safetensors", "control_model.", False)])
def test_original_layouts_load_exactly(tmp_path, unet, reference, fmt, prefix, with_yaml):
    """v1.1 .pth with its yaml, an extracted bare-key file, and a file without yaml (the checkpoint's UNet gives
    the architecture): every tensor lands where diffusers' own model has it."""
    path = make_tiny_controlnet(tmp_path, fmt=fmt, prefix=prefix, with_yaml=with_yaml)
    control = load_controlnet(path, "x", unet.config, torch.float32, "cpu")
    _same(control.net, reference)
    assert control.cross_attention_dim == 32 and not control.global_average_pooling


def test_a_v10_file_holding_a_whole_model_reads_only_its_control_model(tmp_path, unet, reference):
    state = original_state_dict(tiny_controlnet_model(tiny_controlnet_yaml()))
    state["model.diffusion_model.input_blocks.0.0.weight"] = torch.zeros(32, 4, 3, 3)  # the SD model beside it
    path = tmp_path / "control_sd15_tiny.safetensors"
    save_file(state, str(path))
    _same(load_controlnet(path, "x", unet.config, torch.float32, "cpu").net, reference)


def test_diffusers_folder_and_bare_diffusers_file_load(tmp_path, unet, reference):
    folder = make_diffusers_controlnet(tmp_path / "cn-diffusers")
    _same(load_controlnet(folder, "x", unet.config, torch.float32, "cpu").net, reference)
    lone = tmp_path / "lone.safetensors"
    shutil.copy(folder / "diffusion_pytorch_model.safetensors", lone)
    _same(load_controlnet(lone, "x", unet.config, torch.float32, "cpu").net, reference)


def test_listing_uses_the_extensions_names_folders_and_order(tmp_path):
    data = tmp_path / "data"
    paths = Paths(data_dir=data, install_dir=tmp_path / "install")
    main, ext = paths.models_dir / "ControlNet", paths.extensions_dir / "sd-webui-controlnet" / "models"
    make_tiny_controlnet(main / "sub", "control_b", with_yaml=True)
    make_tiny_controlnet(ext, "control_a", fmt="safetensors")
    make_tiny_controlnet(ext, "control_b", fmt="safetensors")  # same stem: the models/ControlNet one wins
    make_diffusers_controlnet(main / "control_c_diffusers")
    (main / "None.pth").write_bytes(b"")
    infos = find_controlnets(controlnet_dirs(paths))
    assert [i.stem for i in infos] == ["control_b", "control_c_diffusers", "control_a"]
    assert infos[0].path.parent.name == "sub" and infos[1].path.is_dir()
    assert infos[0].name == f"control_b [{legacy_hash(infos[0].path)}]" and len(legacy_hash(infos[0].path)) == 8
    library = ControlNetLibrary(controlnet_dirs(paths))
    assert library.find("control_a", "f").path.parent == ext
    with pytest.raises(InvalidInput, match=r"f: unknown ControlNet model 'control_x'.*control_a \["):
        library.find("control_x", "f")


def test_a_controlnet_of_another_family_is_refused_naming_unit_and_file(tmp_path, app):
    model = app.models.get(None)
    library = ControlNetLibrary([tmp_path])
    for name, with_yaml in (("control_wide_yaml", True), ("control_wide", False)):
        make_tiny_controlnet(tmp_path, name, context_dim=64, with_yaml=with_yaml)
        info = library.find(name, "controlnet_units[1].model")
        with pytest.raises(InvalidInput) as caught:
            library.load(info, model.unet, model.dtype, model.device, "controlnet_units[1].model", "tiny.safetensors")
        message = str(caught.value)
        assert message.startswith("controlnet_units[1].model: ") and f"{name}.pth" in message
        assert "another model family" in message and "64" in message and "32" in message


class _Exploit:
    def __reduce__(self):
        return os.system, ("touch exploited",)


def test_malicious_and_corrupt_pth_files_are_refused_with_the_file_named(tmp_path, app, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = app.models.get(None)
    folder = tmp_path / "ControlNet"
    folder.mkdir()
    torch.save({"state_dict": {"input_hint_block.0.weight": torch.zeros(1)}, "x": _Exploit()},
               folder / "control_evil.pth")
    (folder / "control_broken.pth").write_bytes(b"\x80\x02not a pickle at all" * 10)
    with open(folder / "control_plain_pickle.pth", "wb") as f:
        pickle.dump(_Exploit(), f)
    library = ControlNetLibrary([folder])
    for name in ("control_evil", "control_broken", "control_plain_pickle"):
        with pytest.raises(InvalidInput) as caught:
            library.load(library.find(name, "u.model"), model.unet, model.dtype, model.device, "u.model")
        assert f"{name}.pth" in str(caught.value) and str(caught.value).startswith("u.model: cannot load")
    assert "not allowed" in _message(library, "control_evil", model)
    assert not (tmp_path / "exploited").exists()


def _message(library, name, model) -> str:
    try:
        library.load(library.find(name, "u.model"), model.unet, model.dtype, model.device, "u.model")
    except InvalidInput as e:
        return str(e)
    raise AssertionError("loaded")


def test_a_file_that_is_no_controlnet_says_what_it_is(tmp_path, unet):
    path = tmp_path / "adapter.safetensors"
    save_file({"adapter.body.0.weight": torch.zeros(2)}, str(path))
    with pytest.raises(ModelLoadError, match="adapter.safetensors: a T2I-Adapter"):
        load_controlnet(path, "x", unet.config, torch.float32, "cpu")


# lllyasviel/control_v11p_sd15_canny's published diffusers config (the fields an architecture depends on)
SD15_CONTROLNET = {"attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "cross_attention_dim": 768,
                   "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"], "in_channels": 4,
                   "layers_per_block": 2, "use_linear_projection": False, "conditioning_channels": 3}


def _cldm(base: str) -> dict:
    """A cldm yaml as lllyasviel ships it: the checkpoint yaml with `control_stage_config` mirroring its UNet."""
    import yaml

    from modules.paths import INSTALL_DIR

    config = yaml.safe_load((INSTALL_DIR / "configs" / base).read_text())
    params = config["model"]["params"]
    params["control_stage_config"] = {"params": {**params["unet_config"]["params"], "hint_channels": 3}}
    return config


@pytest.mark.parametrize("base,expected", [
    ("v1-inference.yaml", SD15_CONTROLNET),
    ("v2-inference.yaml", {**SD15_CONTROLNET, "attention_head_dim": [5, 10, 20, 20], "cross_attention_dim": 1024,
                           "use_linear_projection": True})])
def test_real_size_yamls_give_the_published_architecture_and_every_key_converts(base, expected):
    """Full-size SD 1.5 / SD 2.1 ControlNets on meta tensors: the yaml's config is diffusers' published one, and
    the original layout of every parameter (input_hint_block.0–14, zero_convs.0–11, middle_block_out) converts
    onto exactly the model's parameters."""
    from accelerate import init_empty_weights
    from diffusers import ControlNetModel

    from modules.controlnet import convert
    from tests.fixtures.tiny_controlnet import controlnet_key_to_ldm

    config, pooling = convert.config_from_yaml(_cldm(base), base)
    assert {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if k in expected} == expected
    assert not pooling
    with init_empty_weights():
        model = ControlNetModel(**config)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    original = {"control_model." + controlnet_key_to_ldm(k, 2): torch.empty(s, device="meta")
                for k, s in shapes.items()}
    assert "control_model.input_hint_block.14.weight" in original and "control_model.zero_convs.11.0.bias" in original
    converted = convert.convert_original(original, config, "x.pth")
    assert {k: tuple(v.shape) for k, v in converted.items()} == shapes


def test_a_controlnet_attends_as_its_unet_when_the_unet_has_one_processor(tmp_path, app):
    """Easel's bf16 CPU attention (modules/models/onednn_attention.py) is one processor for every layer: the
    ControlNet gets it too; diffusers' default (one processor per layer) leaves the ControlNet as loaded."""
    import copy

    from diffusers.models.attention_processor import AttnProcessor2_0

    make_tiny_controlnet(tmp_path, "control_tiny", fmt="safetensors")
    model = app.models.get(None)
    library = ControlNetLibrary([tmp_path])
    control = library.load(library.find("control_tiny", "u.model"), model.unet, model.dtype, model.device, "u.model")
    assert len({id(p) for p in control.net.attn_processors.values()}) > 1  # diffusers' default, untouched
    unet = copy.deepcopy(model.unet)
    shared = AttnProcessor2_0()
    unet.set_attn_processor(shared)
    control = library.load(library.find("control_tiny", "u.model"), unet, model.dtype, model.device, "u.model")
    assert {id(p) for p in control.net.attn_processors.values()} == {id(shared)}
