"""SDXL text conditioning beyond the plain prompt: textual inversion with A1111's SDXL files (a clip_l and a clip_g
vector set, each for its own tower; SD 1.x files skipped on SDXL and SDXL files on SD 1.x, listed as A1111 lists
them), and A1111's `sdxl_clip_l_skip` (Clip skip acting on CLIP-L)."""
from __future__ import annotations

import re
from functools import partial

import pytest
import torch
from safetensors.torch import save_file

from modules.errors import InvalidInput
from modules.models.devices import DeviceConfig
from modules.models.hashing import HashCache
from modules.models.manager import ModelManager
from modules.paths import Paths
from modules.pipeline.prompting import step_conditioning
from modules.pipeline.request import GenerationRequest
from modules.pipeline.seeds import plan_images
from tests.api.conftest import make_client
from tests.fixtures.tiny_sdxl import make_tiny_sdxl_checkpoint
from tests.pipeline.conftest import make_app

FP32 = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float32)
RUN = dict(negative_prompt="", steps=2, width=64, height=64, seed=1, sampler_name="Euler")


@pytest.fixture(scope="module")
def sdxl_file(tmp_path_factory):
    return make_tiny_sdxl_checkpoint(tmp_path_factory.mktemp("xl-text") / "models" / "Stable-diffusion")


@pytest.fixture(scope="module")
def sdxl_model(sdxl_file):
    paths = Paths(data_dir=sdxl_file.parents[2])
    return ModelManager(paths, FP32, HashCache(paths.cache_json)).get()


def write_embeddings(folder) -> dict[str, torch.Tensor]:
    """An SDXL file (A1111's clip_l/clip_g keys, the tiny towers' widths 32 and 48) and an SD 1.x file (32 wide,
    the tiny SD 1.x width, which is also the tiny CLIP-L's: only the set of encoders tells them apart)."""
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(7)
    xl = {"clip_l": torch.randn(2, 32, generator=generator), "clip_g": torch.randn(2, 48, generator=generator)}
    save_file(xl, str(folder / "xlstyle.safetensors"))
    torch.save({"string_to_param": {"*": torch.randn(3, 32, generator=generator)}}, folder / "sd1style.pt")
    return xl


def encoder_inputs(model) -> tuple[dict[str, torch.Tensor], list]:
    """What each tower's transformer receives (token + position embeddings [N, 77, C]), by slot."""
    seen: dict[str, torch.Tensor] = {}

    def grab(slot, _module, args, kwargs):
        seen.setdefault(slot, (kwargs["inputs_embeds"] if "inputs_embeds" in kwargs else args[0]).clone())

    handles = [inner(tower).encoder.register_forward_pre_hook(partial(grab, tower.slot), with_kwargs=True)
               for tower in model.engine.towers]
    return seen, handles


def inner(tower):
    """The transformer of a tower (CLIP-L is built without transformers' `text_model` wrapper, bigG with it)."""
    return getattr(tower.model, "text_model", tower.model)


def test_each_tower_gets_its_own_vector_set(tmp_path, sdxl_file):
    app = make_app(tmp_path / "app", sdxl_file, "--precision", "full")
    xl = write_embeddings(app.paths.embeddings_dir)
    model = app.models.get(None)
    db = app.services.embeddings.load_for_model(model)
    assert list(db.loaded) == ["xlstyle"] and list(db.skipped) == ["sd1style"]
    seen, handles = encoder_inputs(model)
    try:
        with_ti = model.encode_prompt(["a xlstyle circle"], 1, embeddings=db)[0]  # "a" then 2 vectors: 2 and 3
    finally:
        for handle in handles:
            handle.remove()
    for tower in model.engine.towers:
        positions = inner(tower).embeddings.position_embedding.weight[2:4]  # [2, C]
        torch.testing.assert_close(seen[tower.slot][0, 2:4] - positions, xl[tower.slot], atol=1e-5, rtol=0)
    plain = model.encode_prompt(["a xlstyle circle"], 1)[0]  # the name as words
    changed = (with_ti.cross_attn - plain.cross_attn).abs().amax(dim=(0, 1))  # [80]
    assert changed[:32].max() > 1e-3 and changed[32:].max() > 1e-3


def test_an_sd1_embedding_on_sdxl_is_skipped_with_a_warning_naming_it(tmp_path, sdxl_file):
    app = make_app(tmp_path / "app", sdxl_file, "--precision", "full")
    write_embeddings(app.paths.embeddings_dir)
    result = app.txt2img(GenerationRequest(prompt="a sd1style xlstyle circle", **RUN))
    assert re.search(r'TI hashes: "xlstyle: [0-9a-f]{12}"', result.infotexts[0])
    warning = next(w for w in result.warnings if "sd1style" in w)
    assert "not used" in warning and "32 wide" in warning and "clip_l 32 + clip_g 48" in warning, warning


def test_an_sdxl_embedding_on_sd1_is_skipped(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path / "app", tiny_checkpoint, "--precision", "full")
    write_embeddings(app.paths.embeddings_dir)
    result = app.txt2img(GenerationRequest(prompt="a sd1style xlstyle circle", **RUN))
    assert re.search(r'TI hashes: "sd1style: [0-9a-f]{12}"', result.infotexts[0])
    warning = next(w for w in result.warnings if "xlstyle" in w)
    assert "not used" in warning and "clip_l 32 + clip_g 48" in warning, warning


def test_the_embeddings_route_lists_loaded_and_skipped_for_the_current_model(tmp_path, sdxl_file):
    """A1111's `/sdapi/v1/embeddings`: an SDXL file's shape is its widths summed, vectors its token count; the
    listing follows the current model's encoders before any generation."""
    with make_client(tmp_path / "app", sdxl_file, "--precision", "full") as client:
        write_embeddings(client.app_under_test.paths.embeddings_dir)
        client.app_under_test.models.get(None)
        body = client.get("/sdapi/v1/embeddings").json()
    assert set(body["loaded"]) == {"xlstyle"} and set(body["skipped"]) == {"sd1style"}
    assert (body["loaded"]["xlstyle"]["shape"], body["loaded"]["xlstyle"]["vectors"]) == (80, 2)
    assert (body["skipped"]["sd1style"]["shape"], body["skipped"]["sd1style"]["vectors"]) == (32, 3)


def test_the_refiner_takes_no_sdxl_embedding(tmp_path):
    """A1111 sums the widths: the refiner's one tower (bigG, 48 here) takes a 48-wide one-set file, not an SDXL
    file (skipped, as A1111 lists it)."""
    from modules.conditioning.embedding_db import EmbeddingDatabase

    write_embeddings(tmp_path / "embeddings")
    torch.save({"string_to_param": {"*": torch.ones(1, 48)}}, tmp_path / "embeddings" / "gstyle.pt")
    db = EmbeddingDatabase([tmp_path / "embeddings"]).load_for({"clip_g": 48}, None)
    assert set(db.loaded) == {"gstyle"} and set(db.skipped) == {"xlstyle", "sd1style"}


def test_switching_between_base_and_refiner_reads_no_file_again(tmp_path, monkeypatch):
    """A job with a refiner sorts the folder for each model's encoders; the files are read once, and again only
    when they change."""
    import os

    from modules.conditioning import embeddings
    from modules.conditioning.embedding_db import EmbeddingDatabase

    write_embeddings(tmp_path / "embeddings")
    reads, real = [], embeddings.load_embedding
    monkeypatch.setattr(embeddings, "load_embedding", lambda path, *a: reads.append(path.name) or real(path, *a))
    db = EmbeddingDatabase([tmp_path / "embeddings"])
    for widths in ({"clip_l": 32, "clip_g": 48}, {"clip_g": 48}, {"clip_l": 32, "clip_g": 48}):
        db.load_for(widths, None)
    assert sorted(reads) == ["sd1style.pt", "xlstyle.safetensors"] and set(db.loaded) == {"xlstyle"}
    os.utime(tmp_path / "embeddings" / "sd1style.pt", ns=(1, 1))
    db.load_for({"clip_g": 48}, None)
    assert sorted(reads) == ["sd1style.pt", "sd1style.pt", "xlstyle.safetensors"]


# ---- sdxl_clip_l_skip ----------------------------------------------------------------------------------------

def reference_clip_l(model, text: str, back: int) -> torch.Tensor:
    """CLIP-L's hidden states [1, 77, 32] of layer -`back` (no final layer norm) for a one-chunk prompt."""
    tok = model.tokenizer
    words = tok(text, add_special_tokens=False).input_ids
    ids = torch.tensor([[tok.bos_token_id, *words] + [tok.eos_token_id] * (76 - len(words))])  # [1, 77]
    with torch.no_grad():
        return model.engine.towers[0].model(input_ids=ids, output_hidden_states=True).hidden_states[-back]


def test_clip_l_skip_reads_clip_l_at_the_clip_skip_layer_and_leaves_bigg(sdxl_model):
    text = "a red circle"
    default = sdxl_model.encode_prompt([text], 1)[0].cross_attn  # [1, 77, 80]
    last = sdxl_model.encode_prompt([text], 1, clip_l_skip=True)[0].cross_attn
    second = sdxl_model.encode_prompt([text], 2, clip_l_skip=True)[0].cross_attn
    torch.testing.assert_close(default[..., :32], reference_clip_l(sdxl_model, text, 2))  # penultimate by default
    torch.testing.assert_close(last[..., :32], reference_clip_l(sdxl_model, text, 1))  # clip skip 1: the last
    assert (last[..., :32] - default[..., :32]).abs().max() > 1e-3
    assert torch.equal(last[..., 32:], default[..., 32:])  # bigG stays at its penultimate layer
    assert torch.equal(second, default)  # clip skip 2 is SDXL's own choice
    assert torch.equal(sdxl_model.encode_prompt([text], 2)[0].cross_attn, default)  # off: clip skip ignored
    with pytest.raises(InvalidInput, match="clip_skip"):
        sdxl_model.encode_prompt([text], 3, clip_l_skip=True)  # the tiny CLIP-L has 2 layers


def test_the_sdxl_clip_l_skip_setting_reaches_the_engine(tmp_path, sdxl_file):
    """The setting (A1111's key) changes a run's conditioning at Clip skip 1, and the cache keeps the two apart."""
    app = make_app(tmp_path / "app", sdxl_file, "--precision", "full")
    model = app.models.get(None)
    plan = plan_images("a red circle", "", 1, 0, 0.0, 1, 1)

    def cond() -> torch.Tensor:
        steps = step_conditioning(app.services.conditioning, model, plan, 1, 2, app.options.snapshot(), True)
        return steps.cond(0).tensor.cross_attn  # [1, 77, 80]

    assert app.options.get("sdxl_clip_l_skip") is False
    off = cond()
    app.options.set("sdxl_clip_l_skip", True)
    on = cond()
    torch.testing.assert_close(on[..., :32], reference_clip_l(model, "a red circle", 1))
    assert (on - off).abs().max() > 1e-3
    app.options.set("sdxl_clip_l_skip", False)
    assert torch.equal(cond(), off)
