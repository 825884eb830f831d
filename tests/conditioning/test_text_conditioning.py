"""Chunking, emphasis, encoding and caching of prompt conditioning, with a fake encoder and a tiny real CLIP."""
from __future__ import annotations

import pytest
import torch

from modules.conditioning.cache import ConditioningCache, ConditioningKey
from modules.conditioning.chunks import chunk_tokens, chunk_tokens_counted, empty_chunk
from modules.conditioning.emphasis import EMPHASIS_MODES, apply_emphasis, get_emphasis
from modules.conditioning.text import (
    encode_chunks,
    encode_empty,
    encode_prompts,
    pad_to_same_length,
    prompt_to_chunks,
)
from modules.conditioning.tokenizer import load_clip_tokenizer, tokenize
from modules.errors import InvalidInput
from modules.paths import INSTALL_DIR

BOS, EOS, COMMA = 49406, 49407, 267


@pytest.fixture(scope="module")
def tokenizer():
    return load_clip_tokenizer(INSTALL_DIR / "configs")


class FakeEncoder:
    """Hidden state of token t at position p in channel c: deterministic, position-dependent, counts its calls."""

    def __init__(self, tokenizer=None, channels: int = 8):
        self.tokenizer = tokenizer
        self.channels = channels
        self.calls: list[tuple[tuple[int, ...], int]] = []  # (input ids shape, clip_skip) per call

    def text_hidden_states(self, input_ids, clip_skip):
        self.calls.append((tuple(input_ids.shape), clip_skip))
        pos = torch.arange(input_ids.shape[1]).view(1, -1, 1)  # [1, 77, 1]
        chan = torch.arange(self.channels).view(1, 1, -1)  # [1, 1, C]
        return ((input_ids.unsqueeze(-1) % 97) * 0.01 + pos * 0.001 + chan * 0.1 + clip_skip).float()  # [N, 77, C]


# ---- chunking ----------------------------------------------------------------------------------------------

def test_empty_prompt_gives_one_padded_chunk():
    chunks, count = chunk_tokens_counted([], [], BOS, EOS, EOS)
    assert len(chunks) == 1 and count == 0
    assert chunks[0].tokens == empty_chunk(BOS, EOS).tokens
    assert chunks[0].multipliers == [1.0] * 77


def test_75_tokens_fit_one_chunk_76_need_two():
    ids = list(range(1, 76))
    one = chunk_tokens(ids, [1.0] * 75, BOS, EOS, EOS)
    assert len(one) == 1 and one[0].tokens == [BOS] + ids + [EOS]
    two, count = chunk_tokens_counted(ids + [99], [1.0] * 76, BOS, EOS, EOS)
    assert len(two) == 2 and count == 76
    assert two[1].tokens[:3] == [BOS, 99, EOS] and len(two[1].tokens) == 77


def test_padding_uses_pad_before_the_final_eos():
    (chunk,) = chunk_tokens([5, 6], [1.2, 0.8], BOS, EOS, 0)
    assert chunk.tokens[:4] == [BOS, 5, 6, 0] and chunk.tokens[-1] == EOS and chunk.tokens.count(0) == 73
    assert chunk.multipliers[:4] == [1.0, 1.2, 0.8, 1.0]


def test_break_closes_a_chunk_even_an_empty_one():
    chunks = chunk_tokens([1, 2], [1.0, 1.0], BOS, EOS, EOS, breaks=[0, 1, 1])
    assert [c.tokens[:3] for c in chunks] == [[BOS, EOS, EOS], [BOS, 1, EOS], [BOS, EOS, EOS], [BOS, 2, EOS]]
    trailing, count = chunk_tokens_counted([1], [1.0], BOS, EOS, EOS, breaks=[1])
    assert len(trailing) == 1 and count == 75  # a trailing BREAK closes the chunk; nothing follows


def test_comma_backtrack_moves_words_after_the_last_comma():
    ids = [10] * 60 + [COMMA] + [11] * 14 + [12, 13]  # comma at index 60, chunk full at 75 tokens
    weights = [1.0] * 60 + [1.0] + [1.5] * 14 + [1.0, 1.0]
    chunks, count = chunk_tokens_counted(ids, weights, BOS, EOS, EOS)
    assert chunks[0].tokens[1:62] == [10] * 60 + [COMMA] and chunks[0].tokens[62:] == [EOS] * 15
    assert chunks[1].tokens[1:17] == [11] * 14 + [12, 13]
    assert chunks[1].multipliers[1:17] == [1.5] * 14 + [1.0, 1.0]
    assert count == 75 + 16


def test_comma_too_far_back_or_rule_off_splits_hard():
    ids = [10] * 50 + [COMMA] + [11] * 30
    far = chunk_tokens(ids, [1.0] * len(ids), BOS, EOS, EOS)
    assert far[0].tokens[1:76] == ids[:75]
    near = [10] * 60 + [COMMA] + [11] * 20
    off = chunk_tokens(near, [1.0] * len(near), BOS, EOS, EOS, comma_backtrack=0)
    assert off[0].tokens[1:76] == near[:75]


def test_mismatched_weights_are_a_bug():
    with pytest.raises(ValueError):
        chunk_tokens([1, 2], [1.0], BOS, EOS, EOS)


# ---- emphasis ----------------------------------------------------------------------------------------------

def test_emphasis_modes():
    z = torch.rand(2, 77, 4) + 0.5  # [N, 77, C]
    mult = torch.ones(2, 77)
    mult[0, 3] = 1.5
    original = apply_emphasis(z, mult, get_emphasis("Original"))
    torch.testing.assert_close(original.mean(dim=(1, 2)), z.mean(dim=(1, 2)))
    ratio = original[0, 3] / original[0, 4] / (z[0, 3] / z[0, 4])
    torch.testing.assert_close(ratio, torch.full_like(ratio, 1.5))
    torch.testing.assert_close(original[1], z[1])  # chunk 1 has no weights: untouched
    no_norm = apply_emphasis(z, mult, get_emphasis("No norm"))
    torch.testing.assert_close(no_norm[0, 3], z[0, 3] * 1.5)
    torch.testing.assert_close(no_norm[0, 4], z[0, 4])
    assert apply_emphasis(z, mult, get_emphasis("Ignore")) is z
    assert apply_emphasis(z, mult, get_emphasis("None")) is z
    assert set(EMPHASIS_MODES) == {"Original", "No norm", "Ignore", "None"}


def test_unknown_emphasis_is_a_user_error():
    with pytest.raises(InvalidInput, match="Original"):
        get_emphasis("Strong")


# ---- encoding ----------------------------------------------------------------------------------------------

def test_encode_chunks_concatenates_chunks(tokenizer):
    model = FakeEncoder(tokenizer)
    chunks, _ = prompt_to_chunks(tokenizer, " ".join(["word"] * 100))
    cond = encode_chunks(model, chunks, clip_skip=2)
    assert cond.shape == (1, 154, 8)
    ids = torch.tensor([c.tokens for c in chunks])
    torch.testing.assert_close(cond[0, 77:], model.text_hidden_states(ids, 2)[1])
    with pytest.raises(InvalidInput, match="clip_skip"):
        encode_chunks(model, chunks, clip_skip=0)


def test_encode_chunks_applies_multipliers(tokenizer):
    model = FakeEncoder(tokenizer)
    (chunk,) = chunk_tokens([320, 2368], [1.0, 1.3], BOS, EOS, EOS)
    plain = encode_chunks(model, chunk_tokens([320, 2368], [1.0, 1.0], BOS, EOS, EOS), 1)
    weighted = encode_chunks(model, [chunk], 1, emphasis="No norm")
    torch.testing.assert_close(weighted[0, 2], plain[0, 2] * 1.3)
    torch.testing.assert_close(encode_chunks(model, [chunk], 1, emphasis="Ignore"), plain)


def test_encode_prompts_matches_encode_chunks_and_batches(tokenizer):
    model = FakeEncoder(tokenizer)
    texts = ["a cat", ", ".join(["a red apple"] * 30), "a cat", ""]
    conds = encode_prompts(model, texts, 1)
    assert [c.shape[1] for c in conds] == [77, 154, 77, 77]
    assert len(model.calls) == 1 and model.calls[0][0] == (4, 77)  # duplicates encoded once, all in one batch
    for text, cond in zip(texts, conds):
        torch.testing.assert_close(cond, encode_chunks(model, prompt_to_chunks(tokenizer, text)[0], 1))
    assert torch.equal(conds[3], encode_empty(model, 1))


def test_cache_hits_and_keys(tokenizer):
    model = FakeEncoder(tokenizer)
    cache = ConditioningCache(max_entries=2)
    first = encode_prompts(model, ["a cat"], 1, cache=cache, model_hash="abc")[0]
    again = encode_prompts(model, ["a cat"], 1, cache=cache, model_hash="abc")[0]
    assert len(model.calls) == 1 and torch.equal(again, first) and cache.hits == 1
    encode_prompts(model, ["a cat"], 2, cache=cache, model_hash="abc")
    encode_prompts(model, ["a cat"], 1, cache=cache, model_hash="other")
    assert len(model.calls) == 3 and len(cache) == 2  # LRU bound
    assert cache.get(ConditioningKey("abc", "a cat", 1, "Original", 20)) is None  # evicted as the oldest
    cache.drop_model("other")
    assert len(cache) == 1
    with pytest.raises(ValueError):
        encode_prompts(model, ["a cat"], 1, cache=cache)


def test_pad_to_same_length():
    empty = torch.full((1, 77, 4), 7.0)
    short, long = torch.zeros(2, 77, 4), torch.ones(2, 231, 4)
    a, b = pad_to_same_length([short, long], empty)
    assert a.shape == b.shape == (2, 231, 4)
    assert torch.equal(a[:, :77], short) and torch.equal(a[:, 77:], torch.full((2, 154, 4), 7.0))
    assert b is long
    with pytest.raises(ValueError):
        pad_to_same_length([torch.zeros(1, 80, 4), short[:1]], empty)


# ---- a tiny real CLIP text model -----------------------------------------------------------------------------

class TinyClip:
    """The LoadedModel seam on a 2-layer CLIPTextModel: hidden_states[-clip_skip] then the final layer norm."""

    def __init__(self, tokenizer):
        from transformers import CLIPTextConfig, CLIPTextModel

        torch.manual_seed(0)
        config = CLIPTextConfig(vocab_size=49408, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                num_attention_heads=4, max_position_embeddings=77, eos_token_id=EOS)
        self.model = CLIPTextModel(config).eval()
        self.tokenizer = tokenizer

    @torch.no_grad()
    def text_hidden_states(self, input_ids, clip_skip):
        out = self.model(input_ids=input_ids, output_hidden_states=True)
        if clip_skip == 1:
            return out.last_hidden_state  # [N, 77, 32]
        return self.model.final_layer_norm(out.hidden_states[-clip_skip])  # [N, 77, 32]


def test_tiny_clip_end_to_end(tokenizer):
    model = TinyClip(tokenizer)
    text = ", ".join(["a photo of a cat"] * 20)  # > 75 tokens
    (cond,) = encode_prompts(model, [text], 1)
    assert cond.shape == (1, 154, 32) and torch.isfinite(cond).all()
    chunks, _ = prompt_to_chunks(tokenizer, text)
    ids = torch.tensor([chunks[1].tokens])
    torch.testing.assert_close(cond[:, 77:], model.model(input_ids=ids).last_hidden_state)
    assert chunks[0].tokens[1:6] == tokenize(tokenizer, "a photo of a cat")
    skip2 = encode_prompts(model, [text], 2)[0]
    assert skip2.shape == cond.shape and not torch.allclose(skip2, cond)
    (empty,) = encode_prompts(model, [""], 1)
    padded, long = pad_to_same_length([empty, cond], encode_empty(model, 1))
    assert padded.shape == long.shape and torch.equal(padded[:, 77:], padded[:, :77])
