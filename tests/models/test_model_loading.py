"""Loading tiny checkpoints through ModelManager: weights land exactly, the family maths works, errors are clear."""
import dataclasses
import gc
import shutil
import threading
import weakref

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import CLIPTextConfig, CLIPTextModel

from modules.errors import InvalidInput, ModelLoadError, NotFound
from modules.models.devices import DeviceConfig
from modules.models.hashing import HashCache, sha256_file
from modules.models.ldm_layout import VAE_PREFIX
from modules.models.manager import ModelManager
from modules.paths import Paths
from tests.fixtures.tiny_model import TINY_TEXT, make_tiny_checkpoint, tiny_models, tiny_yaml

FP32 = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float32)
BF16 = DeviceConfig(dtype=torch.bfloat16, vae_dtype=torch.bfloat16)


def manager_for(checkpoint, config=FP32, **kwargs) -> ModelManager:
    paths = Paths(data_dir=checkpoint.parents[2])
    return ModelManager(paths, config, HashCache(paths.cache_json), **kwargs)


@pytest.fixture
def own_copy(tmp_path, tiny_checkpoint):
    """A private copy of the tiny checkpoint's data dir, for tests that change files."""
    shutil.copytree(tiny_checkpoint.parents[2], tmp_path / "data")
    return tmp_path / "data" / "models" / "Stable-diffusion" / tiny_checkpoint.name


def test_tiny_loads_with_exact_weights_and_metadata(tiny_checkpoint):
    model = manager_for(tiny_checkpoint).get()
    unet, vae, text = tiny_models(tiny_yaml(), seed=0)
    for loaded, original in ((model.unet, unet), (model.vae, vae), (model.text_encoder, text)):
        got, want = loaded.state_dict(), original.state_dict()
        assert set(got) == set(want)
        assert all(torch.equal(got[k], want[k]) for k in want)
    assert model.family == "sd1" and model.prediction_type == "epsilon" and model.unet_in_channels == 4
    assert (model.latent_channels, model.vae_scale_factor, model.latent_scale, model.native_size) == (4, 8, 0.18215, 64)
    assert model.checkpoint.sha256 == sha256_file(tiny_checkpoint) and model.vae_name is None
    assert model.alphas_cumprod.dtype == torch.float32 and model.alphas_cumprod.shape == (1000,)
    assert model.tokenizer("a cat")["input_ids"] == [49406, 320, 2368, 49407]
    assert type(model.unet.attn_processors["mid_block.attentions.0.transformer_blocks.0.attn1.processor"]).__name__ \
        == "AttnProcessor2_0"


@pytest.mark.parametrize("channels_last", [False, True])
def test_convolution_weights_take_the_device_configs_memory_format(tiny_checkpoint, channels_last):
    config = dataclasses.replace(FP32, channels_last=channels_last)
    model = manager_for(tiny_checkpoint, config).get()
    for conv in (model.unet.conv_in.weight, model.unet.down_blocks[0].resnets[0].conv1.weight,
                 model.vae.decoder.conv_out.weight, model.vae.encoder.conv_in.weight):
        assert conv.is_contiguous(memory_format=torch.channels_last) == channels_last
    z = torch.randn(1, 4, 8, 8)
    reference = manager_for(tiny_checkpoint, dataclasses.replace(FP32, channels_last=not channels_last)).get()
    torch.testing.assert_close(model.decode(z), reference.decode(z), atol=1e-5, rtol=1e-5)  # same numbers either way


def test_family_maths_shapes_and_dtypes(tiny_checkpoint):
    model = manager_for(tiny_checkpoint, BF16).get()
    assert model.unet.dtype == torch.bfloat16 and model.text_encoder.dtype == torch.bfloat16
    assert model.memory_bytes() < 9_000_000  # bf16: half of the ~3.7M fp32 parameters' bytes
    ids = torch.tensor([[49406, 320, 2368] + [49407] * 74])
    context = model.text_hidden_states(ids, clip_skip=1)
    assert context.shape == (1, 77, 32) and context.dtype == torch.float32
    x = torch.randn(2, 4, 8, 8)
    eps = model.unet_forward(x, torch.tensor([999.0, 10.0]), context.expand(2, -1, -1))
    assert eps.shape == (2, 4, 8, 8) and eps.dtype == torch.float32 and torch.isfinite(eps).all()
    images = model.decode(x)
    assert images.shape == (2, 3, 64, 64) and images.dtype == torch.float32 and 0 <= images.min() <= images.max() <= 1
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    latents = model.encode(images, generator=g1)
    assert latents.shape == (2, 4, 8, 8) and torch.equal(latents, model.encode(images, generator=g2))
    assert torch.equal(model.encode(images, sample=False), model.encode(images, sample=False))
    assert not torch.equal(latents, model.encode(images, sample=False))


def test_clip_skip_is_nth_last_layer_then_final_norm(tiny_checkpoint):
    model = manager_for(tiny_checkpoint).get()
    ids = torch.tensor([[49406, 320, 2368, 49407] + [49407] * 73])
    reference = tiny_models(tiny_yaml(), seed=0)[2]
    with torch.no_grad():
        out = reference(input_ids=ids, output_hidden_states=True)
        assert torch.allclose(model.text_hidden_states(ids, 1), out.last_hidden_state, atol=1e-6)
        skip2 = reference.final_layer_norm(out.hidden_states[-2])
        # independent check: a one-layer copy of the encoder ends exactly where clip skip 2 reads
        short = CLIPTextModel(CLIPTextConfig(**{**TINY_TEXT, "num_hidden_layers": 1})).eval()
        short.load_state_dict({k: v for k, v in reference.state_dict().items() if "layers.1." not in k})
        assert torch.allclose(short(input_ids=ids).last_hidden_state, skip2, atol=1e-6)
    assert torch.allclose(model.text_hidden_states(ids, 2), skip2, atol=1e-6)
    assert not torch.allclose(model.text_hidden_states(ids, 2), model.text_hidden_states(ids, 1))
    with pytest.raises(InvalidInput, match="clip_skip.*valid: 1 to 2"):
        model.text_hidden_states(ids, 3)


def test_inpainting_model_takes_mask_and_masked_latents(tiny_inpaint_checkpoint):
    model = manager_for(tiny_inpaint_checkpoint).get()
    assert model.family == "sd1-inpaint" and model.unet_in_channels == 9
    context = torch.zeros(1, 77, 32)
    x, concat = torch.randn(1, 4, 8, 8), torch.randn(1, 5, 8, 8)
    assert model.unet_forward(x, 500.0, context, concat=concat).shape == (1, 4, 8, 8)
    with pytest.raises(ValueError, match="takes 9 channels"):
        model.unet_forward(x, 500.0, context)


def test_v_prediction_and_ckpt_format(tmp_path):
    path = make_tiny_checkpoint(tmp_path / "data" / "models" / "Stable-diffusion", prediction="v", fmt="ckpt")
    model = manager_for(path).get("tiny-sd1-v-0")
    assert model.prediction_type == "v_prediction" and model.checkpoint.name == "tiny-sd1-v-0.ckpt"


def test_yaml_beside_wins_over_detection(own_copy):
    manager = manager_for(own_copy)
    assert manager.get().native_size == 64  # the tiny yaml beside it was used
    manager.unload()
    own_copy.with_suffix(".yaml").unlink()
    manager.list_checkpoints(refresh=True)
    with pytest.raises(ModelLoadError, match="do not fit the model config v1-inference.yaml") as err:
        manager.get()
    assert own_copy.name in str(err.value)


def test_old_clip_key_layout_loads(own_copy):
    state = load_file(str(own_copy))
    old = {k.replace("cond_stage_model.transformer.text_model.", "cond_stage_model.transformer."): v
           for k, v in state.items()}
    save_file(old, str(own_copy))
    model = manager_for(own_copy).get()
    want = tiny_models(tiny_yaml(), seed=0)[2].state_dict()
    assert all(torch.equal(model.text_encoder.state_dict()[k], v) for k, v in want.items())


def test_external_vae_replaces_the_baked_one(own_copy):
    data = own_copy.parents[2]
    vae_state = {k.removeprefix(VAE_PREFIX): v for k, v in load_file(str(make_tiny_checkpoint(
        data / "scratch", seed=7))).items() if k.startswith(VAE_PREFIX)}
    vae_state["loss.logvar"] = torch.zeros(())  # training leftovers in VAE files are ignored
    vae_file = data / "models" / "VAE" / "other.safetensors"
    vae_file.parent.mkdir(parents=True)
    save_file(vae_state, str(vae_file))
    manager = manager_for(own_copy)
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    baked = manager.get(vae="None").decode(latents)
    model = manager.get(vae="other.safetensors")
    assert model.vae_name == "other.safetensors" and len(model.vae_hash) == 10
    assert torch.equal(model.vae.encoder.conv_in.weight, vae_state["encoder.conv_in.weight"])
    assert not torch.allclose(model.decode(latents), baked)
    shutil.copy(vae_file, own_copy.with_name(own_copy.stem + ".vae.safetensors"))
    manager.list_vaes(refresh=True)
    assert manager.get(vae="Automatic").vae_name == own_copy.stem + ".vae.safetensors"
    back = manager.get(vae="None")
    assert back.vae_name is None and torch.equal(back.decode(latents), baked)


def test_wrong_architecture_and_unknown_names(tmp_path):
    sd = tmp_path / "data" / "models" / "Stable-diffusion"
    sd.mkdir(parents=True)
    save_file({"lora_unet_x.lora_up.weight": torch.zeros(2, 2)}, str(sd / "lora.safetensors"))
    manager = manager_for(sd / "lora.safetensors")
    with pytest.raises(ModelLoadError, match="not a Stable Diffusion checkpoint") as err:
        manager.get("lora.safetensors")
    assert "lora.safetensors" in str(err.value)
    # the user's files are listed first; the install folder's built-in model follows
    # (refused from its header, the file was never hashed: its title has no short hash yet)
    with pytest.raises(NotFound, match=r"checkpoint 'nope' not found \(valid: lora\.safetensors[ ,]"):
        manager.get("nope")


def test_no_checkpoint_at_all_says_where_to_put_one(tmp_path):
    paths = Paths(data_dir=tmp_path, install_dir=tmp_path / "install")
    manager = ModelManager(paths, FP32, HashCache(paths.cache_json))
    with pytest.raises(NotFound, match="put a .safetensors or .ckpt file in .*Stable-diffusion"):
        manager.get()


def test_find_by_title_hash_and_deleted_file(own_copy):
    manager = manager_for(own_copy)
    model = manager.get()
    sha = model.checkpoint.sha256
    listed = manager.list_checkpoints()[0]
    assert listed.title == f"{own_copy.name} [{sha[:10]}]"
    for name in (listed.title, own_copy.name, own_copy.stem, sha[:10], f"{own_copy.name} [0000000000]",
                 str(own_copy.resolve())):
        assert manager.find_checkpoint(name).path == own_copy
    manager.unload()
    own_copy.unlink()
    with pytest.raises(NotFound, match="no longer exists"):
        manager.get(own_copy.name)
    assert [c for c in manager.list_checkpoints() if not manager.is_builtin(c)] == []


def test_switching_frees_the_previous_model(own_copy):
    second = make_tiny_checkpoint(own_copy.parent, seed=1)
    manager = manager_for(own_copy)
    first_unet = weakref.ref(manager.get(own_copy.name).unet)
    assert manager.get(own_copy.name).unet is first_unet()  # same request: no reload
    model = manager.get(second.name)
    gc.collect()
    assert first_unet() is None and manager.current is model
    manager.unload()
    assert manager.current is None


def test_concurrent_gets_load_once(own_copy, monkeypatch):
    import modules.models.loader as loader_module

    calls = []
    real = loader_module.load_model
    monkeypatch.setattr(loader_module, "load_model", lambda *a, **k: calls.append(1) or real(*a, **k))
    manager = manager_for(own_copy)
    results = []
    threads = [threading.Thread(target=lambda: results.append(manager.get(own_copy.name))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_no_hashing_leaves_titles_bare(tiny_checkpoint):
    paths = Paths(data_dir=tiny_checkpoint.parents[2])
    manager = ModelManager(paths, FP32, HashCache(paths.cache_json, enabled=False))
    model = manager.get()
    assert model.checkpoint.sha256 is None and model.checkpoint.title == tiny_checkpoint.name
    assert manager.list_checkpoints()[0].title == tiny_checkpoint.name


def test_broken_yaml_beside_is_a_load_error_naming_it(own_copy):
    own_copy.with_suffix(".yaml").write_text("model:\n  params:\n    unet_config: {}\n    first_stage_config: {}\n")
    with pytest.raises(ModelLoadError, match=r"cannot build the UNet from this model config") as err:
        manager_for(own_copy).get()
    assert own_copy.with_suffix(".yaml").name in str(err.value)
    own_copy.with_suffix(".yaml").write_text("model: [unclosed\n")
    with pytest.raises(ModelLoadError, match="cannot read the model config"):
        manager_for(own_copy).get()


def test_vae_file_that_is_not_a_vae(own_copy):
    vae_dir = own_copy.parents[1] / "VAE"
    vae_dir.mkdir()
    save_file({"something.weight": torch.zeros(2)}, str(vae_dir / "junk.safetensors"))
    manager = manager_for(own_copy)
    with pytest.raises(ModelLoadError, match="junk.safetensors: not a VAE"):
        manager.get(vae="junk.safetensors")
    assert manager.current is None  # the checkpoint was not left half-loaded
    manager.get(vae="None")
    with pytest.raises(ModelLoadError, match="not a VAE"):
        manager.get(vae="junk.safetensors")
    assert manager.current.vae is not None and manager.current.vae_name is None  # a failed swap changes nothing


def test_ckpt_outside_the_models_folder_stays_loaded_when_a_same_named_file_is_listed(tmp_path):
    """--ckpt /elsewhere/same.safetensors beside models/Stable-diffusion/same.safetensors: every job uses the
    --ckpt file (its title gains " [hash]" at load; the bare name it was selected by also names the other file)."""
    import webui
    from modules import cli
    from modules.pipeline.request import GenerationRequest

    data = tmp_path / "data"
    make_tiny_checkpoint(data / "models" / "Stable-diffusion", seed=0, name="same")
    chosen = make_tiny_checkpoint(tmp_path / "elsewhere", seed=1, name="same")
    app = webui.build_app(cli.parse_args(["--data-dir", str(data), "--ckpt", str(chosen), "--nowebui"], env={}))
    used = []
    for _ in range(3):
        app.txt2img(GenerationRequest(prompt="a cat", steps=1, width=64, height=64, seed=1))
        used.append(app.models.current.checkpoint.path)
    assert [p.resolve() for p in used] == [chosen.resolve()] * 3
