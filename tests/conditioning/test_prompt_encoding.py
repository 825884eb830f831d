"""Prompt text through emphasis, BREAK, schedules and AND to conditionings; the token counter."""
from __future__ import annotations

import pytest
import torch

from modules.conditioning.schedules import (
    ScheduledPromptConditioning,
    cond_at_step,
    cond_batch_at_step,
    encode_multicond,
    encode_schedules,
    multicond_batch_at_step,
    stack_conds,
)
from modules.conditioning.text import encode_prompts, prompt_to_chunks, weighted_tokens
from modules.conditioning.token_counter import count_tokens
from modules.conditioning.tokenizer import load_clip_tokenizer, tokenize
from modules.conditioning.types import Conditioning
from modules.errors import InvalidInput
from modules.paths import INSTALL_DIR

BOS, EOS = 49406, 49407


@pytest.fixture(scope="module")
def tok():
    return load_clip_tokenizer(INSTALL_DIR / "configs")


class FakeEncoder:
    def __init__(self, tokenizer, channels=6):
        self.tokenizer, self.channels, self.calls = tokenizer, channels, 0

    def text_hidden_states(self, input_ids, clip_skip):
        self.calls += 1
        chan = torch.arange(1, self.channels + 1).view(1, 1, -1)  # [1, 1, C]
        return ((input_ids.unsqueeze(-1) % 89) + 1) * 0.01 * chan + 0.1 * clip_skip  # [N, 77, C]


# ---- text → weighted tokens → chunks --------------------------------------------------------------------------

def test_weighted_tokens_follow_emphasis(tok):
    ids, weights, breaks = weighted_tokens(tok, "a (red:1.5) [cat] BREAK dog")
    assert ids == tokenize(tok, "a red cat dog") and breaks == [3]
    assert weights == pytest.approx([1.0, 1.5, 1 / 1.1, 1.0])
    ids, weights, breaks = weighted_tokens(tok, "a (red:1.5) BREAK", emphasis="None")
    assert ids == tokenize(tok, "a (red:1.5) BREAK") and set(weights) == {1.0} and breaks == []
    ids, weights, _ = weighted_tokens(tok, "a (red:1.5)", emphasis="Ignore")
    assert weights == [1.0, 1.5]  # parsed; the weight is ignored at encoding time


def test_brackets_split_words_like_a1111(tok):
    assert weighted_tokens(tok, "(sun)flower")[0] == tokenize(tok, "sun") + tokenize(tok, "flower")


def test_comma_backtrack_on_real_text(tok):
    text = " ".join(["cat"] * 70) + ", red dog with hat and coat"  # 70 + 1 comma + 6 words = 77 tokens
    chunks, count = prompt_to_chunks(tok, text)
    assert chunks[0].tokens[1:72] == tokenize(tok, " ".join(["cat"] * 70) + ",")
    assert chunks[1].tokens[1:7] == tokenize(tok, "red dog with hat and coat")
    assert count == 75 + 6
    off, _ = prompt_to_chunks(tok, text, comma_backtrack=0)
    assert off[0].tokens[1:76] == tokenize(tok, text)[:75]


def test_break_starts_a_new_chunk(tok):
    chunks, _ = prompt_to_chunks(tok, "a cat BREAK a dog")
    assert [c.tokens[1:4] for c in chunks] == [[320, 2368, EOS], [320, 1929, EOS]]


# ---- encoding with emphasis ------------------------------------------------------------------------------------

def test_emphasis_reaches_the_encoding(tok):
    model = FakeEncoder(tok)
    plain, weighted, no_norm, ignored, literal = (
        encode_prompts(model, ["a cat"], 1)[0],
        encode_prompts(model, ["a (cat:1.5)"], 1)[0],
        encode_prompts(model, ["a (cat:1.5)"], 1, emphasis="No norm")[0],
        encode_prompts(model, ["a (cat:1.5)"], 1, emphasis="Ignore")[0],
        encode_prompts(model, ["a (cat:1.5)"], 1, emphasis="None")[0],
    )
    torch.testing.assert_close(no_norm[0, 2], plain[0, 2] * 1.5)
    torch.testing.assert_close(no_norm[0, 1], plain[0, 1])
    torch.testing.assert_close(weighted.mean(), plain.mean())
    assert not torch.allclose(weighted, plain)
    torch.testing.assert_close(ignored, plain)
    assert not torch.allclose(literal, plain)
    with pytest.raises(InvalidInput, match="emphasis"):
        encode_prompts(model, ["a"], 1, emphasis="strong")


# ---- schedules and AND -----------------------------------------------------------------------------------------

def test_encode_schedules_encodes_each_text_once(tok):
    model = FakeEncoder(tok)
    (schedule, again) = encode_schedules(model, ["a [cat:dog:5]", "a [cat:dog:5]"], 10, 1)
    assert [e.end_at_step for e in schedule] == [5, 10] and model.calls == 1
    assert schedule[0].cond.shape == (77, 6)
    torch.testing.assert_close(schedule[1].cond, encode_prompts(model, ["a dog"], 1)[0][0])
    assert cond_at_step(schedule, 1) is schedule[0].cond
    assert cond_at_step(schedule, 5) is schedule[0].cond
    assert cond_at_step(schedule, 6) is schedule[1].cond
    assert cond_at_step(schedule, 11) is schedule[0].cond  # A1111: past the end falls back to the first entry
    assert [e.end_at_step for e in again] == [5, 10]
    assert all(torch.equal(x.cond, y.cond) for x, y in zip(again, schedule))


def test_hires_schedule_through_encode(tok):
    model = FakeEncoder(tok)
    (schedule,) = encode_schedules(model, ["a [cat:dog:1.5]"], 10, 1, hires_steps=4)
    assert [e.end_at_step for e in schedule] == [2, 4]


def test_multicond_batch(tok):
    model = FakeEncoder(tok)
    long = ", ".join(["a red apple"] * 30)
    batch = encode_multicond(model, ["a cat AND a dog:0.5", long], 10, 1)
    assert [[p.weight for p in parts] for parts in batch] == [[1.0, 0.5], [1.0]]
    conds_list, stacked = multicond_batch_at_step(batch, 3)
    assert conds_list == [[(0, 1.0), (1, 0.5)], [(2, 1.0)]]
    assert stacked.shape == (3, 154, 6)
    torch.testing.assert_close(stacked[0, 77:], stacked[0, 76:77].expand(77, 6))  # last vector repeated
    assert cond_batch_at_step([parts[0].schedule for parts in batch], 1).shape == (2, 154, 6)


def test_stack_conds_keeps_equal_lengths():
    a, b = torch.zeros(77, 2), torch.ones(154, 2)
    out = stack_conds([a, b])
    assert out.shape == (2, 154, 2) and out[0].abs().sum() == 0
    entry = ScheduledPromptConditioning(3, a)
    assert entry.end_at_step == 3 and entry.cond is a


def test_stack_conds_refuses_a_mix_of_tensors_and_conditionings():
    one_row = Conditioning(torch.ones(1, 77, 2))  # [1, 77, 2]
    assert stack_conds([one_row, one_row]).cross_attn.shape == (2, 77, 2)
    for mixed in ([one_row, torch.zeros(77, 2)], [torch.zeros(77, 2), one_row]):
        with pytest.raises(ValueError, match="1 Conditioning values and 1 plain tensors"):
            stack_conds(mixed)


# ---- token counter -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("", (0, 75)),
    ("a cat", (2, 75)),
    (" ".join(["cat"] * 75), (75, 75)),
    (" ".join(["cat"] * 76), (76, 150)),
    ("a BREAK b", (76, 150)),
    ("<lora:detail:0.8> a cat <hypernet:x:1>", (2, 75)),
    ("[a|b c d e] f", (5, 75)),
    ("[one two three:four:5]", (3, 75)),
    ("a cat AND a very big red dog:1.2", (5, 75)),
    ("(a cat:1.3), [dog]", (4, 75)),
])
def test_count_tokens(tok, text, expected):
    assert count_tokens(tok, text, 20) == expected


def test_count_tokens_negative_and_modes(tok):
    assert count_tokens(tok, "a AND b", 20, is_positive=False) == (3, 75)
    assert count_tokens(tok, "(a:1.2)", 20, emphasis="None") == (len(tokenize(tok, "(a:1.2)")), 75)
    assert count_tokens(tok, "[a:b c d:3]", 0) == (1, 75)  # one step: only `a` is ever encoded
    assert count_tokens(tok, "[a:b c d:3]", 5) == (3, 75)
