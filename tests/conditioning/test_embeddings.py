"""Textual inversion (files, names, chunking, encoding) and the conditioning rules on a tiny CLIP."""
from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import save_file

from modules.conditioning.chunks import CHUNK_LENGTH
from modules.conditioning.embeddings import (
    PLACEHOLDER_TOKEN,
    EmbeddingDatabase,
    embedding_from_data,
    load_embedding,
)
from modules.conditioning.text import encode_prompts, prompt_to_chunks
from modules.conditioning.tokenizer import load_clip_tokenizer, tokenize
from modules.errors import ModelLoadError
from modules.models.hashing import HashCache, sha256_file
from modules.paths import INSTALL_DIR

WIDTH = 32


@pytest.fixture(scope="module")
def tokenizer():
    return load_clip_tokenizer(INSTALL_DIR / "configs")


class TinyClip:
    """The LoadedModel text seam (text_encoder, tokenizer, text_hidden_states) on a 2-layer CLIP of width 32."""

    def __init__(self, tokenizer):
        from transformers import CLIPTextConfig, CLIPTextModel

        torch.manual_seed(0)
        config = CLIPTextConfig(vocab_size=49408, hidden_size=WIDTH, intermediate_size=37, num_hidden_layers=2,
                                num_attention_heads=4, max_position_embeddings=77, eos_token_id=49407)
        self.text_encoder = CLIPTextModel(config).eval()
        with torch.no_grad():  # a random CLIP's final norm has zero mean; real ones do not (emphasis divides by it)
            self.text_encoder.final_layer_norm.bias.normal_(0.5, 0.1)
        self.tokenizer = tokenizer

    @torch.no_grad()
    def text_hidden_states(self, input_ids, clip_skip=1):
        return self.text_encoder(input_ids=input_ids).last_hidden_state  # [N, 77, C]


@pytest.fixture(scope="module")
def clip(tokenizer):
    return TinyClip(tokenizer)


def vectors(n: int, width: int = WIDTH, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, width, generator=torch.Generator().manual_seed(seed))  # [n, C]


def write_pt(path, vec, **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"string_to_param": {"*": torch.nn.Parameter(vec)}, "string_to_token": {"*": 265},
                "name": "ignored", **extra}, path)
    return path


def make_db(tmp_path, tokenizer, files: dict, width: int = WIDTH, **kwargs) -> EmbeddingDatabase:
    """files: relative path → vectors [n, C]; written as A1111 .pt unless the suffix says otherwise."""
    folder = tmp_path / "embeddings"
    folder.mkdir(exist_ok=True)
    for rel, vec in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".safetensors":
            save_file({"emb_params": vec.contiguous()}, str(path))
        elif path.suffix == ".bin":
            torch.save({"<concept>": vec[0]}, path)
        else:
            write_pt(path, vec, step=100)
    return EmbeddingDatabase([folder], **kwargs).load_for(width, tokenizer)


# ---- files ---------------------------------------------------------------------------------------------------

def test_three_formats_and_subfolders(tmp_path, tokenizer):
    db = make_db(tmp_path, tokenizer, {"style-a.pt": vectors(2), "sub/style-b.safetensors": vectors(3),
                                       "deep/er/concept.bin": vectors(1)})
    assert sorted(db.loaded) == ["concept", "style-a", "style-b"]
    assert (db.loaded["style-a"].vectors, db.loaded["style-b"].vectors, db.loaded["concept"].vectors) == (2, 3, 1)
    torch.testing.assert_close(db.loaded["style-b"].vec, vectors(3))
    info = db.api_info()
    assert info["loaded"]["style-a"] == {"step": 100, "sd_checkpoint": None, "sd_checkpoint_name": None,
                                         "shape": WIDTH, "vectors": 2}
    assert info["skipped"] == {}


def test_wrong_width_is_skipped_not_loaded(tmp_path, tokenizer):
    db = make_db(tmp_path, tokenizer, {"sd2-style.pt": vectors(2, width=1024), "ok.pt": vectors(1)})
    assert list(db.loaded) == ["ok"] and list(db.skipped) == ["sd2-style"]
    assert db.api_info()["skipped"]["sd2-style"]["shape"] == 1024
    chunks, _ = prompt_to_chunks(tokenizer, "a sd2-style cat", embeddings=db)
    assert not chunks[0].fixes  # a skipped name is plain text


def test_malicious_pickle_is_refused_and_reported(tmp_path, tokenizer):
    folder = tmp_path / "embeddings"
    folder.mkdir()

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    (folder / "evil.pt").write_bytes(pickle.dumps({"string_to_param": {"*": Evil()}}))
    (folder / "junk.safetensors").write_bytes(b"not a safetensors file")
    db = EmbeddingDatabase([folder]).load_for(WIDTH, tokenizer)
    assert db.loaded == {} and set(db.errors) == {"evil", "junk"}
    assert "builtins.print" in db.errors["evil"] and "evil.pt" in db.errors["evil"]
    with pytest.raises(ModelLoadError, match="junk.safetensors"):
        load_embedding(folder / "junk.safetensors")


def test_multi_term_files_are_errors():
    with pytest.raises(ValueError, match="exactly one term"):
        embedding_from_data({"string_to_param": {"*": vectors(1), "x": vectors(1)}}, "two")


def test_reload_only_when_files_change(tmp_path, tokenizer):
    db = make_db(tmp_path, tokenizer, {"a.pt": vectors(1)})
    key = db.key
    assert db.load_for(WIDTH, tokenizer).key == key
    write_pt(tmp_path / "embeddings" / "b.pt", vectors(2))
    assert sorted(db.load_for(WIDTH, tokenizer).loaded) == ["a", "b"] and db.key != key
    assert db.load_for(64, tokenizer).skipped.keys() == {"a", "b"}


def test_shorthash_is_12_hex_of_the_file_sha256(tmp_path, tokenizer):
    db = make_db(tmp_path, tokenizer, {"a.pt": vectors(1)}, hash_cache=HashCache(tmp_path / "cache.json"))
    assert db.shorthash("a") == sha256_file(tmp_path / "embeddings" / "a.pt")[:12]
    assert "textual_inversion/a" in (tmp_path / "cache.json").read_text()
    off = make_db(tmp_path, tokenizer, {}, hash_cache=HashCache(tmp_path / "c2.json", enabled=False))
    assert off.shorthash("a") is None


# ---- names in prompts ----------------------------------------------------------------------------------------

def test_longest_name_first_and_vector_count(tmp_path, tokenizer):
    db = make_db(tmp_path, tokenizer, {"cat.pt": vectors(1, seed=1), "cat toy.pt": vectors(3, seed=2)})
    chunks, count = prompt_to_chunks(tokenizer, "a cat toy and a cat", embeddings=db)
    a, _and = tokenize(tokenizer, "a"), tokenize(tokenizer, "and")
    assert chunks[0].tokens[1:8] == a + [PLACEHOLDER_TOKEN] * 3 + _and + a + [PLACEHOLDER_TOKEN]
    assert [(f.offset, f.embedding.name) for f in chunks[0].fixes] == [(1, "cat toy"), (6, "cat")]
    assert count == 7


def test_names_inside_emphasis_get_the_weight(tmp_path, tokenizer):
    db = make_db(tmp_path, tokenizer, {"shiny.pt": vectors(2)})
    chunks, _ = prompt_to_chunks(tokenizer, "a (shiny:1.3) cat", embeddings=db)
    assert chunks[0].multipliers[2:4] == [1.3, 1.3] and chunks[0].fixes[0].offset == 1


def test_an_embedding_never_straddles_two_chunks(tmp_path, tokenizer):
    db = make_db(tmp_path, tokenizer, {"wide.pt": vectors(4)})
    text = " ".join(["dog"] * 73) + " wide"
    chunks, count = prompt_to_chunks(tokenizer, text, embeddings=db, comma_backtrack=0)
    assert len(chunks) == 2 and chunks[0].fixes == [] and chunks[0].tokens[74] != PLACEHOLDER_TOKEN
    assert chunks[1].tokens[1:5] == [PLACEHOLDER_TOKEN] * 4 and chunks[1].fixes[0].offset == 0
    assert count == CHUNK_LENGTH + 4


def test_comma_backtrack_carries_the_embedding(tmp_path, tokenizer):
    db = make_db(tmp_path, tokenizer, {"wide.pt": vectors(2)})
    text = " ".join(["dog"] * 70) + ", cat wide bird bird"
    chunks, _ = prompt_to_chunks(tokenizer, text, embeddings=db)
    assert chunks[0].fixes == [] and chunks[0].tokens[71] == 267  # the comma stays, the rest moves on
    assert [f.offset for f in chunks[1].fixes] == [1]
    assert chunks[1].tokens[2:4] == [PLACEHOLDER_TOKEN] * 2


def test_names_in_finds_used_skipped_and_broken(tmp_path, tokenizer):
    db = make_db(tmp_path, tokenizer, {"used.pt": vectors(1), "unused.pt": vectors(1),
                                       "big.pt": vectors(1, width=768)})
    assert db.names_in(tokenizer, ["a used thing", "b"]) == ["used"]
    assert db.names_in(tokenizer, ["big cat"], "skipped") == ["big"]


# ---- encoding ------------------------------------------------------------------------------------------------

def test_a_tiny_embedding_changes_exactly_the_tokens_it_names(tmp_path, tokenizer, clip):
    db = make_db(tmp_path, tokenizer, {"toy.pt": vectors(2, seed=5)})
    text = "a red toy on a table"
    chunks, _ = prompt_to_chunks(tokenizer, text, embeddings=db)
    ids = torch.tensor([chunks[0].tokens])  # [1, 77], placeholders where the vectors go
    embeddings = clip.text_encoder.embeddings
    seen = []
    handle = embeddings.register_forward_hook(lambda m, a, out: seen.append(out))
    try:
        (with_ti,) = encode_prompts(clip, [text], 1, embeddings=db)
        without = clip.text_hidden_states(ids)  # the same token ids, no vectors written
    finally:
        handle.remove()
    ti_in, raw_in = seen  # token + position embeddings [1, 77, C]
    changed = (ti_in != raw_in).any(-1)[0].nonzero().flatten().tolist()
    assert changed == [3, 4]  # BOS, a, red, then the two vectors
    positions = embeddings.position_embedding.weight[3:5]  # [2, C]
    torch.testing.assert_close(ti_in[0, 3:5] - positions, vectors(2, seed=5))
    assert torch.equal(with_ti[:, :3], without[:, :3])  # causal attention: earlier tokens unchanged
    assert not torch.allclose(with_ti[:, 3:], without[:, 3:])
    assert clip.text_encoder.get_input_embeddings()._forward_hooks == {}  # the model is left as it was


def test_cache_key_follows_the_database(tmp_path, tokenizer, clip):
    from modules.conditioning.cache import ConditioningCache

    db = make_db(tmp_path, tokenizer, {"toy.pt": vectors(1)})
    cache = ConditioningCache()
    (a,) = encode_prompts(clip, ["a toy"], 1, cache=cache, model_hash="m", embeddings=db)
    write_pt(tmp_path / "embeddings" / "toy.pt", vectors(1, seed=9))
    db.load_for(WIDTH, tokenizer)
    (b,) = encode_prompts(clip, ["a toy"], 1, cache=cache, model_hash="m", embeddings=db)
    assert not torch.equal(a, b) and cache.misses == 2


# ---- other conditioning rules ------------------------------------------------------------------

def test_weight_one_is_the_same_as_no_brackets(clip):
    (plain, weighted) = encode_prompts(clip, ["a word here", "a (word:1.0) here"], 1)
    assert torch.equal(plain, weighted)


def test_a_weighted_token_changes_only_its_vectors_before_mean_restoration(clip, tokenizer):
    (plain, weighted) = encode_prompts(clip, ["a word here", "a (word:1.5) here"], 1, emphasis="No norm")
    differs = (plain != weighted).any(-1)[0].nonzero().flatten().tolist()
    assert differs == [2]
    torch.testing.assert_close(weighted[0, 2], plain[0, 2] * 1.5)
    (original,) = encode_prompts(clip, ["a (word:1.5) here"], 1, emphasis="Original")
    ratio = original / weighted  # Original = No norm × one scalar per chunk (the mean restoration)
    torch.testing.assert_close(ratio, torch.full_like(ratio, ratio[0, 0, 0].item()))
    torch.testing.assert_close(original.mean(), plain.mean())


def test_a_10000_character_prompt_is_many_chunks(clip, tokenizer):
    """Chunk count grows with the text (timing is for benches, not tests: see the counted parse test)."""
    phrase = "a (red:1.1) cat, [blue] dog, green bird, "
    short, long = phrase * (2500 // len(phrase)), phrase * (10_000 // len(phrase) + 1)
    assert len(long) >= 10_000
    short_chunks, _ = prompt_to_chunks(tokenizer, short)
    long_chunks, _ = prompt_to_chunks(tokenizer, long)
    assert len(long_chunks) >= 30 and len(long_chunks) >= 3.5 * len(short_chunks)
    (cond,) = encode_prompts(clip, [long], 1)
    assert cond.shape == (1, 77 * len(long_chunks), WIDTH) and torch.isfinite(cond).all()


def _whole_parse_schedule(prompt, timing):
    """The schedule as one Earley parse of the whole text gives it (the reference the fast path must equal)."""
    import lark

    from modules.prompts import schedule

    try:
        tree = schedule.SCHEDULE_PARSER.parse(prompt)
    except lark.exceptions.LarkError:
        return [[timing.steps, prompt]]
    return [[step, schedule._text_at(tree, step, timing)] for step in schedule._change_steps(tree, timing)]


def test_piecewise_schedule_parsing_equals_the_whole_parse():
    import random

    from modules.prompts import schedule

    atoms = ["a", " ", ", ", ",", "(", ")", "[", "]", ":", "|", "2", "0.5", "\\(", "\\", "\n", "(k:1.2)",
             "[x:y:2]", "[p|q]", "[a:[b:c:3]:5]", ":3]", "[[", "))"]
    rng = random.Random(4)
    timing = schedule._Timing(10)
    for _ in range(200):
        prompt = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 10)))
        assert schedule.prompt_schedule(prompt, timing) == _whole_parse_schedule(prompt, timing), prompt


def test_schedule_parsing_of_long_prompts_is_linear(monkeypatch):
    """The Earley parse is superlinear in its input, so long prompts must reach it only in short pieces:
    then parsing work grows linearly with the text. Counted, not timed (timings flake on a loaded machine)."""
    from modules.prompts import schedule as schedule_module
    from modules.prompts.schedule import get_learned_conditioning_prompt_schedules

    phrase = "a [red:blue:5] (circle:1.2), [big|small] square, "
    parsed = []
    real_parse = schedule_module.SCHEDULE_PARSER.parse
    monkeypatch.setattr(schedule_module.SCHEDULE_PARSER, "parse", lambda text: parsed.append(text) or real_parse(text))
    prompt = phrase * 24
    schedule = get_learned_conditioning_prompt_schedules([prompt], 20)[0]
    assert len(prompt) > 1_000 and len(schedule) == 20 and "blue" in schedule[-1][1]
    assert parsed and max(map(len, parsed)) <= len(phrase)  # pieces, never the whole text
    assert sum(map(len, parsed)) <= len(prompt)  # each character parsed at most once
