"""LoRA files (kohya, LoHa, LoKr), their mapping onto our modules, and patching with bit-exact restoring."""
from __future__ import annotations

import hashlib
import pickle

import pytest
import torch

from modules.errors import ModelLoadError, UnsafeCheckpoint
from modules.models.devices import DeviceConfig
from modules.models.hashing import HashCache
from modules.models.lora import LoraLayer, module_map, parse_lora
from modules.models.lora_library import LoraLibrary
from modules.models.manager import ModelManager
from modules.paths import Paths
from tests.fixtures.tiny_lora import TE_LAYERS, UNET_LAYERS, kohya_name, lora_tensors, write_lora

FP32 = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float32)
BF16 = DeviceConfig(dtype=torch.bfloat16, vae_dtype=torch.bfloat16)


def loaded(checkpoint, config=FP32):
    paths = Paths(data_dir=checkpoint.parents[2])
    manager = ModelManager(paths, config, HashCache(paths.cache_json))
    return manager, manager.get()


@pytest.fixture(scope="module")
def fp32(tiny_checkpoint):
    return loaded(tiny_checkpoint)


def weights(model) -> dict[str, torch.Tensor]:
    return {f"{part}.{k}": v.detach().clone() for part in ("unet", "text_encoder", "vae")
            for k, v in getattr(model, part).state_dict().items()}


def assert_same(model, original: dict[str, torch.Tensor]) -> None:
    now = weights(model)
    changed = [k for k in original if not torch.equal(original[k], now[k])]
    assert not changed, changed[:5]


def network(tmp_path, model, name="style", suffix=".safetensors", **kwargs):
    library = LoraLibrary(tmp_path / "Lora")
    write_lora(tmp_path / "Lora" / f"{name}{suffix}", lora_tensors(model, **kwargs))
    return library.load(library.find(name))


def expected_delta(tensors, key, shape):
    up, down = tensors[f"{key}.lora_up.weight"], tensors[f"{key}.lora_down.weight"]
    return (up.flatten(1) @ down.flatten(1)).reshape(shape)  # [out, in(, k, k)]


@pytest.mark.parametrize("naming", ["ldm", "diffusers"])
def test_weight_one_gives_w_plus_scale_up_down_on_every_layer(tmp_path, fp32, naming):
    manager, model = fp32
    original = weights(model)
    tensors = lora_tensors(model, rank=4, alpha=2.0, naming=naming)  # scale = alpha / rank = 0.5
    net = network(tmp_path, model, naming=naming, rank=4, alpha=2.0)
    try:
        assert manager.apply_loras(model, [(net, 1.0, 1.0)]) == []
        for part, names, root in (("te", TE_LAYERS, model.text_encoder), ("unet", UNET_LAYERS, model.unet)):
            for name in names:
                w = root.get_submodule(name).weight
                before = original[f"{'text_encoder' if part == 'te' else 'unet'}.{name}.weight"]
                want = before + 0.5 * expected_delta(tensors, kohya_name(model, name, part, naming), w.shape)
                torch.testing.assert_close(w, want, rtol=0, atol=1e-6)
    finally:
        manager.restore_weights(model)
    assert_same(model, original)


def test_te_and_unet_multipliers_apply_separately(tmp_path, fp32):
    manager, model = fp32
    original = weights(model)
    net = network(tmp_path, model, alpha=None)  # no alpha: scale 1
    tensors = lora_tensors(model, alpha=None)
    manager.apply_loras(model, [(net, 0.5, 0.0)])
    try:
        q = model.text_encoder.get_submodule(TE_LAYERS[0]).weight
        key = kohya_name(model, TE_LAYERS[0], "te")
        torch.testing.assert_close(q, original[f"text_encoder.{TE_LAYERS[0]}.weight"]
                                   + 0.5 * expected_delta(tensors, key, q.shape), rtol=0, atol=1e-6)
        assert all(torch.equal(v, original[f"unet.{k}"]) for k, v in model.unet.state_dict().items())
        assert manager.text_weights_key(model).startswith("|lora:style@")
    finally:
        manager.restore_weights(model)
    assert manager.text_weights_key(model) == ""


def test_weight_zero_changes_nothing_and_unet_only_keeps_the_text_key(tmp_path, fp32):
    manager, model = fp32
    original = weights(model)
    net = network(tmp_path, model)
    manager.apply_loras(model, [(net, 0.0, 0.0)])
    assert_same(model, original)
    manager.apply_loras(model, [(net, 0.0, 1.0)])
    assert manager.text_weights_key(model) == ""
    manager.restore_weights(model)
    assert_same(model, original)


def test_several_loras_add_up_and_the_same_set_is_not_applied_twice(tmp_path, fp32):
    manager, model = fp32
    original = weights(model)
    a = network(tmp_path, model, name="a", seed=1)
    b = network(tmp_path, model, name="b", seed=2)
    ta, tb = lora_tensors(model, seed=1), lora_tensors(model, seed=2)
    name = UNET_LAYERS[1]
    key = kohya_name(model, name, "unet")
    try:
        manager.apply_loras(model, [(a, 1.0, 0.7), (b, 1.0, -0.3)])
        w = model.unet.get_submodule(name).weight
        want = original[f"unet.{name}.weight"] + 0.5 * (0.7 * expected_delta(ta, key, w.shape)
                                                        - 0.3 * expected_delta(tb, key, w.shape))
        torch.testing.assert_close(w, want, rtol=0, atol=1e-6)
        snapshot = w.clone()
        manager.apply_loras(model, [(a, 1.0, 0.7), (b, 1.0, -0.3)])  # no-op: not W + 2Δ
        assert torch.equal(w, snapshot)
    finally:
        manager.restore_weights(model)
    assert_same(model, original)


def test_no_drift_after_100_generations_in_bf16(tmp_path, tiny_checkpoint):
    manager, model = loaded(tiny_checkpoint, BF16)
    original = weights(model)
    a = network(tmp_path, model, name="a", seed=1)
    b = network(tmp_path, model, name="b", seed=2)
    for i in range(100):
        manager.apply_loras(model, [(a, 1.0, 1.0)] if i % 2 else [(a, 0.8, 1.0), (b, 1.0, 0.5)])
        manager.restore_weights(model)
    assert_same(model, original)


def test_unloading_the_model_forgets_its_patches(tmp_path, tiny_checkpoint):
    manager, model = loaded(tiny_checkpoint)
    manager.apply_loras(model, [(network(tmp_path, model), 1.0, 1.0)])
    manager.unload()
    fresh = manager.get()
    assert fresh is not model and manager.text_weights_key(fresh) == ""
    _, reference = loaded(tiny_checkpoint)
    assert_same(fresh, weights(reference))


def test_layers_that_do_not_fit_are_warnings(tmp_path, fp32):
    """Layers of this family's model that are missing or shaped otherwise; a LoRA of another family is refused
    instead (tests/models/test_lora_few_step.py)."""
    manager, model = fp32
    tensors = lora_tensors(model)
    tensors["lora_unet_no_such_block.lora_up.weight"] = torch.zeros(4, 2)
    tensors["lora_unet_no_such_block.lora_down.weight"] = torch.zeros(2, 4)
    key = kohya_name(model, UNET_LAYERS[0], "unet")
    tensors[f"{key}.lora_down.weight"] = torch.zeros(2, 1024)  # a proj_in of another width
    path = write_lora(tmp_path / "Lora" / "mixed.safetensors", tensors)
    net = LoraLibrary(tmp_path / "Lora").load(LoraLibrary(tmp_path / "Lora").find("mixed"))
    try:
        warnings = manager.apply_loras(model, [(net, 1.0, 1.0)])
    finally:
        manager.restore_weights(model)
    assert any("layers have no matching layer here, e.g. lora_unet_no_such_block" in w for w in warnings)
    assert any("other shapes" in w and key in w for w in warnings)
    assert path.is_file()


# ---- files ---------------------------------------------------------------------------------------------------

def test_malformed_files_name_themselves(tmp_path, fp32):
    _, model = fp32
    tensors = lora_tensors(model)
    key = next(k for k in tensors if k.endswith("lora_up.weight"))
    bad = dict(tensors)
    del bad[key]
    write_lora(tmp_path / "Lora" / "half.safetensors", bad)
    mismatched = dict(tensors)
    mismatched[key] = torch.zeros(mismatched[key].shape[0], 7)
    write_lora(tmp_path / "Lora" / "ranks.safetensors", mismatched)
    write_lora(tmp_path / "Lora" / "empty.safetensors", {"something_else": torch.zeros(2)})
    (tmp_path / "Lora" / "garbage.safetensors").write_bytes(b"\x00" * 5)
    library = LoraLibrary(tmp_path / "Lora")
    for name, message in (("half", "lacks up"), ("ranks", "different ranks"), ("empty", "no LoRA layers"),
                          ("garbage", "too short")):
        with pytest.raises(ModelLoadError, match=message) as info:
            library.load(library.find(name))
        assert f"{name}.safetensors" in str(info.value)


def test_pickled_loras_go_through_the_restricted_unpickler(tmp_path, fp32):
    _, model = fp32
    write_lora(tmp_path / "Lora" / "old.pt", lora_tensors(model))

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    (tmp_path / "Lora" / "evil.ckpt").write_bytes(pickle.dumps({"lora_unet_x.alpha": Evil()}))
    library = LoraLibrary(tmp_path / "Lora")
    assert len(library.load(library.find("old")).layers) == len(TE_LAYERS) + len(UNET_LAYERS)
    with pytest.raises(UnsafeCheckpoint, match="evil.ckpt"):
        library.load(library.find("evil"))


def test_library_finds_by_stem_or_alias_and_hashes_like_a1111(tmp_path, fp32):
    _, model = fp32
    path = write_lora(tmp_path / "Lora" / "sub" / "film-grain-v2.safetensors", lora_tensors(model),
                      metadata={"ss_output_name": "FilmGrain"})
    library = LoraLibrary(tmp_path / "Lora")
    info = library.find("film-grain-v2")
    assert info is library.find("FilmGrain") or info == library.find("FilmGrain")
    assert library.find("nope") is None
    assert info.api_info() == {"name": "film-grain-v2", "alias": "FilmGrain", "path": str(path),
                               "metadata": {"ss_output_name": "FilmGrain"}}
    raw = path.read_bytes()
    header = int.from_bytes(raw[:8], "little")
    assert library.shorthash(info) == hashlib.sha256(raw[8 + header:]).hexdigest()[:12]
    net = library.load(info)
    assert library.load(info) is net  # parsed once while the file is unchanged


def test_module_map_covers_both_unet_namings_and_the_text_encoder(fp32):
    _, model = fp32
    table = module_map(model)
    assert table["lora_unet_input_blocks_1_1_proj_in"][1] is model.unet.down_blocks[0].attentions[0].proj_in
    assert table["lora_unet_middle_block_1_transformer_blocks_0_attn1_to_q"][1] is \
        model.unet.mid_block.attentions[0].transformer_blocks[0].attn1.to_q
    assert table["lora_unet_input_blocks_1_0_in_layers_2"][1] is model.unet.down_blocks[0].resnets[0].conv1
    assert table["lora_te_text_model_encoder_layers_1_self_attn_out_proj"][1] is \
        model.text_encoder.get_submodule("encoder.layers.1.self_attn.out_proj")


# ---- LyCORIS -------------------------------------------------------------------------------------------------

def test_loha_is_the_hadamard_product_of_two_low_rank_pairs():
    g = torch.Generator().manual_seed(0)
    t = {k: torch.randn(*s, generator=g) for k, s in (("hada_w1_a", (6, 2)), ("hada_w1_b", (2, 5)),
                                                       ("hada_w2_a", (6, 2)), ("hada_w2_b", (2, 5)))}
    layer = parse_lora({f"lora_unet_x.{k}": v for k, v in t.items()} | {"lora_unet_x.alpha": torch.tensor(1.0)},
                       "loha.safetensors")["lora_unet_x"]
    assert (layer.kind, layer.scale) == ("loha", 0.5)
    want = (t["hada_w1_a"] @ t["hada_w1_b"]) * (t["hada_w2_a"] @ t["hada_w2_b"])
    torch.testing.assert_close(layer.delta(torch.Size([6, 5])), want)


def test_lokr_is_a_kronecker_product():
    g = torch.Generator().manual_seed(0)
    w1, w2a, w2b = torch.randn(2, 3, generator=g), torch.randn(4, 2, generator=g), torch.randn(2, 5, generator=g)
    layer = LoraLayer("lora_unet_x", "lokr", {"lokr_w1": w1, "lokr_w2_a": w2a, "lokr_w2_b": w2b}, alpha=4.0)
    assert layer.scale == 2.0
    torch.testing.assert_close(layer.delta(torch.Size([8, 15])), torch.kron(w1, w2a @ w2b))
    with pytest.raises(ValueError, match="does not fit"):
        layer.delta(torch.Size([8, 16]))


def test_diffusers_and_peft_files_patch_like_kohya(tmp_path, fp32):
    manager, model = fp32
    tensors = lora_tensors(model, alpha=None, naming="diffusers")
    peft = {}
    for key, value in tensors.items():
        module, part = key.split(".", 1)
        root, dotted = ("text_encoder.text_model.", module.removeprefix("lora_te_text_model_")) \
            if module.startswith("lora_te_") else ("unet.", module.removeprefix("lora_unet_"))
        names = TE_LAYERS if root.startswith("text") else UNET_LAYERS
        dotted = next(n for n in names if n.replace(".", "_") == dotted)
        peft[f"{root}{dotted}.{'lora_A' if 'down' in part else 'lora_B'}.weight"] = value
    kohya_net = network(tmp_path, model, name="kohya", alpha=None, naming="diffusers")
    write_lora(tmp_path / "Lora" / "peft.safetensors", peft)
    library = LoraLibrary(tmp_path / "Lora")
    peft_net = library.load(library.find("peft"))
    assert set(peft_net.layers) == set(kohya_net.layers)
    try:
        manager.apply_loras(model, [(kohya_net, 1.0, 1.0)])
        patched = weights(model)
        manager.apply_loras(model, [(peft_net, 1.0, 1.0)])
        assert_same(model, patched)
    finally:
        manager.restore_weights(model)
