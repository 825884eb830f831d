"""LoRA tags, textual inversion and their warnings and hashes through app.txt2img on the tiny model."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from modules.conditioning.tokenizer import tokenize
from modules.errors import InvalidInput, ModelLoadError
from modules.pipeline.extra_networks import NetworkRun
from modules.pipeline.request import GenerationRequest
from tests.fixtures.tiny_lora import lora_tensors, write_lora

BASE = dict(negative_prompt="", steps=3, width=64, height=64, seed=11, sampler_name="Euler", cfg_scale=7.0)


def run(app, prompt, **kw):
    return app.txt2img(GenerationRequest(prompt=prompt, **{**BASE, **kw}))


def pixels(result) -> np.ndarray:
    return np.asarray(result.images[0])


def weights(model) -> dict[str, torch.Tensor]:
    return {f"{part}.{k}": v.detach().clone() for part in ("unet", "text_encoder")
            for k, v in getattr(model, part).state_dict().items()}


def assert_weights_are(model, original) -> None:
    now = weights(model)
    assert [k for k in original if not torch.equal(original[k], now[k])] == []


@pytest.fixture
def lora_app(app):
    model = app.models.get(None)
    folder = app.services.loras.folder
    write_lora(folder / "grain.safetensors", lora_tensors(model, seed=1, scale=0.5),
               metadata={"ss_output_name": "FilmGrain"})
    write_lora(folder / "sub" / "ink.safetensors", lora_tensors(model, seed=2, scale=0.5))
    return app


def test_weight_zero_is_bit_identical_and_weight_one_changes_the_image(lora_app):
    model = lora_app.models.get(None)
    original = weights(model)
    plain = pixels(run(lora_app, "a red circle"))
    zero = run(lora_app, "a red circle <lora:grain:0>")
    assert np.array_equal(plain, pixels(zero))
    one = run(lora_app, "a red circle <lora:grain:1>")
    assert not np.array_equal(plain, pixels(one))
    assert_weights_are(model, original)  # restored after the run
    assert np.array_equal(plain, pixels(run(lora_app, "a red circle")))  # and nothing leaked


def test_infotext_keeps_the_tag_and_lists_hashes(lora_app):
    result = run(lora_app, "a circle <lora:grain:0.8> <lora:ink:te=0.5:unet=1>")
    text = result.infotexts[0]
    assert text.startswith("a circle <lora:grain:0.8> <lora:ink:te=0.5:unet=1>\n")
    hashes = re.search(r'Lora hashes: "grain: ([0-9a-f]{12}), ink: ([0-9a-f]{12})"', text)
    assert hashes, text
    assert hashes.group(1) == lora_app.services.loras.shorthash(lora_app.services.loras.find("grain"))
    assert result.warnings == []
    assert run(lora_app, "a circle <lora:FilmGrain:1>").infotexts[0].count("FilmGrain: ") == 1  # by alias


def test_text_encoder_only_lora_changes_the_conditioning_not_a_stale_cache(lora_app):
    plain = pixels(run(lora_app, "a blue square"))
    te_only = pixels(run(lora_app, "a blue square <lora:grain:1:0>"))
    assert not np.array_equal(plain, te_only)  # only the text encoder was patched: the cache key changed
    assert np.array_equal(plain, pixels(run(lora_app, "a blue square")))  # and the cache was not poisoned
    assert np.array_equal(te_only, pixels(run(lora_app, "a blue square <lora:grain:te=1:unet=0>")))


def test_no_drift_over_repeated_runs(lora_app):
    model = lora_app.models.get(None)
    original = weights(model)
    first = pixels(run(lora_app, "a cat <lora:grain:0.7> <lora:ink:0.4>", steps=1))
    for _ in range(5):
        run(lora_app, "a cat <lora:ink:1>", steps=1)
        again = pixels(run(lora_app, "a cat <lora:grain:0.7> <lora:ink:0.4>", steps=1))
        assert np.array_equal(first, again)
    assert_weights_are(model, original)


def test_missing_lora_and_unsupported_networks_warn_and_continue(lora_app):
    plain = pixels(run(lora_app, "a red circle"))
    result = run(lora_app, "a red circle <lora:nope:1> <hypernet:old:1>")
    assert np.array_equal(plain, pixels(result))
    assert any("Lora not found: nope" in w for w in result.warnings)
    assert any("hypernetworks are not supported" in w for w in result.warnings)
    assert "Lora not found: nope" in result.infotexts[0]
    assert "Extra networks ignored: hypernet" in result.infotexts[0]


def test_malformed_lora_is_an_error_naming_the_file(lora_app):
    (lora_app.services.loras.folder / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{bad")
    with pytest.raises(ModelLoadError, match="broken.safetensors"):
        run(lora_app, "a circle <lora:broken:1>")
    with pytest.raises(InvalidInput, match="te weight 'lots' is not a number"):
        run(lora_app, "a circle <lora:grain:lots>")
    model = lora_app.models.get(None)
    assert lora_app.models.text_weights_key(model) == ""  # nothing left patched after the failures


def test_a_lora_for_another_family_stops_the_job(app):
    model = app.models.get(None)
    tensors = lora_tensors(model)
    tensors = {k: torch.zeros(2, 1024) if k.endswith("lora_down.weight") else v for k, v in tensors.items()}
    write_lora(app.services.loras.folder / "sd2.safetensors", tensors)
    with pytest.raises(InvalidInput, match=r"<lora:sd2> \(.*sd2\.safetensors\) was made for SD 2\.x"):
        run(app, "a circle <lora:sd2:1>")
    assert app.models.text_weights_key(model) == ""  # nothing patched


def test_a_lora_of_another_family_in_a_later_batch_stops_the_job_before_the_first(app):
    """Scripts may give each batch its own prompt: the family check covers every batch before any runs."""
    from modules.pipeline.seeds import ImagePlan

    model = app.models.get(None)
    tensors = {k: torch.zeros(2, 1024) if k.endswith("lora_down.weight") else v for k, v in lora_tensors(model).items()}
    write_lora(app.services.loras.folder / "sd2late.safetensors", tensors)
    plan = ImagePlan(("a circle", "a circle <lora:sd2late:1>"), ("", ""), (1, 2), (1, 2), 1)
    with NetworkRun(app.services, model, app.options.snapshot()) as nets:
        nets.check_families(ImagePlan(plan.prompts[:1], ("",), (1,), (1,), 1), 1)  # batch 1 alone: fine
        with pytest.raises(InvalidInput, match=r"<lora:sd2late> .* was made for SD 2\.x"):
            nets.check_families(plan, 2)
        assert nets.lora_hashes == {} and nets.warnings == []  # nothing noted for batches not yet run
    assert app.models.text_weights_key(model) == ""


# ---- textual inversion ---------------------------------------------------------------------------------------

def write_embedding(app, name, vectors, width=None):
    model = app.models.get(None)
    width = width or model.text_encoder.config.hidden_size
    vec = torch.randn(vectors, width, generator=torch.Generator().manual_seed(3))  # [n, C]
    path = app.paths.embeddings_dir / f"{name}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"string_to_param": {"*": vec}}, path)
    return path


def test_embedding_in_prompt_and_negative_prompt_gets_ti_hashes(app):
    write_embedding(app, "glowstyle", 2)
    write_embedding(app, "badhands", 1)
    plain = pixels(run(app, "a glowstyle circle", negative_prompt="ugly"))
    result = run(app, "a glowstyle circle", negative_prompt="badhands, ugly")
    assert re.search(r'TI hashes: "glowstyle: [0-9a-f]{12}, badhands: [0-9a-f]{12}"', result.infotexts[0])
    assert not np.array_equal(plain, pixels(result))
    model = app.models.get(None)
    assert app.services.embeddings.loaded["glowstyle"].vectors == 2
    assert tokenize(model.tokenizer, "glowstyle")  # the name is text the tokenizer splits, replaced by 2 vectors


def test_embedding_for_another_model_warns_and_is_text(app):
    write_embedding(app, "sd2thing", 1, width=1024)
    result = run(app, "a sd2thing circle")
    assert any("sd2thing not used" in w and "1024" in w for w in result.warnings)
    assert "Embeddings not loaded: sd2thing" in result.infotexts[0]
    assert app.services.embeddings.api_info()["skipped"]["sd2thing"]["shape"] == 1024


def test_hashes_can_be_left_out(lora_app):
    write_embedding(lora_app, "glowstyle", 1)
    result = run(lora_app, "a glowstyle <lora:grain:1>", override_settings={
        "lora_add_hashes_to_infotext": False, "textual_inversion_add_hashes_to_infotext": False})
    assert "Lora hashes" not in result.infotexts[0] and "TI hashes" not in result.infotexts[0]


def test_network_entries_sit_before_emphasis():
    from modules.pipeline.params import RunFacts

    class Stub:
        models = loras = embeddings = None

    nets = NetworkRun(Stub(), None, {})
    nets.lora_hashes = {"a": "0123456789ab"}
    facts = RunFacts("Euler", "m", None, extra={"Hires upscale": 2, "Emphasis": "No norm"})
    assert list(nets.facts(facts).extra) == ["Hires upscale", "Lora hashes", "Emphasis"]


def test_a_10000_character_prompt_generates(app):
    prompt = "a (red:1.2) circle, [blue] square, green <lora:nope:1> line, " * 170
    assert len(prompt) > 10_000
    result = run(app, prompt, steps=1)
    assert result.images and result.infotexts[0].startswith(prompt[:50])


def test_listings_for_the_api(lora_app):
    from modules.pipeline.extra_networks import embeddings_listing, loras_listing

    services = lora_app.services
    write_embedding(lora_app, "wide", 1, width=1024)
    lora_app.models.unload()
    assert embeddings_listing(services)["loaded"]["wide"]["shape"] == 1024  # no model yet: every width
    lora_app.models.get(None)
    listing = embeddings_listing(services)
    assert "wide" in listing["skipped"] and listing["loaded"] == {}
    names = {entry["name"]: entry for entry in loras_listing(services)}
    assert set(names) == {"grain", "ink"} and names["grain"]["alias"] == "FilmGrain"
    write_lora(services.loras.folder / "late.safetensors", lora_tensors(lora_app.models.get(None)))
    assert "late" in {entry["name"] for entry in loras_listing(services, refresh=True)}


def test_hires_pass_runs_with_the_loras_and_embeddings_of_the_first(lora_app):
    model = lora_app.models.get(None)
    original = weights(model)
    write_embedding(lora_app, "glowstyle", 2)
    hires = dict(enable_hr=True, hr_scale=2.0, denoising_strength=0.5, hr_second_pass_steps=1, steps=1)
    plain = run(lora_app, "a glowstyle circle", **hires)
    with_lora = run(lora_app, "a glowstyle circle <lora:grain:1:0>", **hires)
    assert with_lora.images[0].size == (128, 128)
    assert not np.array_equal(pixels(plain), pixels(with_lora))
    assert "Lora hashes" in with_lora.infotexts[0] and "TI hashes" in with_lora.infotexts[0]
    assert_weights_are(model, original)
    assert np.array_equal(pixels(plain), pixels(run(lora_app, "a glowstyle circle", **hires)))


def test_a_hook_rewriting_the_batch_prompts_leaves_the_infotext_as_planned(lora_app):
    """A1111 writes each image's infotext from `all_prompts`: a script that rewrites `p.prompts` in process_batch
    (sd-webui-negpip drops its negative words there) changes what is encoded, not the infotext."""
    import dataclasses

    from modules.pipeline.hooks import NoHooks
    from modules.pipeline.job import Job
    from modules.pipeline.txt2img import run_txt2img

    class Rewrite(NoHooks):
        def call(self, point, ctx, **kwargs):
            super().call(point, ctx, **kwargs)
            if point == "process_batch":
                ctx.batch = dataclasses.replace(ctx.batch, prompts=("a blue square",) * len(ctx.batch.prompts))

    req = GenerationRequest(prompt="a red circle", steps=2, width=64, height=64, seed=3, sampler_name="Euler")
    opts = lora_app.options.snapshot({})
    rewritten = run_txt2img(lora_app.services, req, opts, Job(), Rewrite())
    plain = run_txt2img(lora_app.services, req, opts, Job(), NoHooks())
    assert rewritten.infotexts[0].startswith("a red circle\n")
    assert rewritten.infotexts[0] == plain.infotexts[0]
    assert list(rewritten.images[0].getdata()) != list(plain.images[0].getdata())  # encoded as rewritten
