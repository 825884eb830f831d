"""The shipped tokenizer files and `tokenize` agree with CLIP's reference tokenizer (open_clip's SimpleTokenizer)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from modules.conditioning.tokenizer import load_clip_tokenizer, tokenize, tokenize_many
from modules.errors import ModelLoadError
from modules.paths import INSTALL_DIR

CONFIGS = INSTALL_DIR / "configs"

PROMPTS = [
    "a photo of a cat",
    "",
    "   ",
    "A Photo Of A CAT, Masterpiece, BEST quality",
    "café au lait, crème brûlée",
    "Müller, Straße, Größe",
    "emoji 🐱🔥 and 👩‍👩‍👧 family",
    "東京の夜景, 漂亮的风景, 서울",
    "ﬁne ﬂowers in the ﬁeld",
    "“curly quotes” and ‘single’ — dashes – too",
    "Tom &amp; Jerry &lt;3 &quot;quoted&quot; &amp;amp; double",
    "MiXeD CaSe WoRdS",
    "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "hello!!! what??? ...ellipsis... (parens) [brackets] {braces}",
    "(word:1.2), [less], ((more)), (a:0.5)",
    "[cat:dog:0.5] [a|b|c] AND something :1.3",
    "a BREAK b",
    "it's they're we've I'm you'll he'd don't",
    "numbers 12345 3.14 1e10 1st 2nd",
    "tabs\tand\nnewlines\r\nmixed   spaces",
    "under_score hy-phen slash/path back\\slash",
    "mojibake: cafÃ©",
    "Ωmega αβγ Ελληνικά русский текст",
    "عربي עברית हिन्दी",
    "<lora:myLora:0.8> trigger",
    "score_9, score_8_up, rating_safe",
    "1girl, solo, long hair, looking at viewer, smile",
    "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ",
    "e\u0301 combining accent and İstanbul",
    "snake_case_word camelCaseWord UPPER",
    "&#x65;&#x301; entity-made accent, ΣΑΣ, no\u00a0break\u2003space, zero\u200bwidth",
]


def _load_reference():
    """open_clip's tokenizer module, imported from its file so the package __init__ (timm, torchvision) stays out."""
    spec = importlib.util.find_spec("open_clip")
    path = Path(next(iter(spec.submodule_search_locations))) / "tokenizer.py"
    module_spec = importlib.util.spec_from_file_location("_open_clip_tokenizer_reference", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.SimpleTokenizer()


@pytest.fixture(scope="module")
def tokenizer():
    return load_clip_tokenizer(CONFIGS)


@pytest.fixture(scope="module")
def reference():
    return _load_reference()


def test_special_ids_and_size(tokenizer):
    assert len(tokenizer) == 49408
    assert tokenizer.bos_token_id == 49406 and tokenizer.bos_token == "<|startoftext|>"
    assert tokenizer.eos_token_id == 49407 and tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer.pad_token_id == 49407
    assert tokenizer.model_max_length == 77


def test_vocab_matches_reference(reference):
    vocab = json.loads((CONFIGS / "clip-tokenizer" / "vocab.json").read_text(encoding="utf-8"))
    ref = dict(reference.encoder)
    ref["<|startoftext|>"] = ref.pop("<start_of_text>")
    ref["<|endoftext|>"] = ref.pop("<end_of_text>")
    assert vocab == ref


def test_shipped_files_are_what_the_tool_makes(tmp_path):
    tool_path = INSTALL_DIR / "tools" / "make_clip_tokenizer.py"
    spec = importlib.util.spec_from_file_location("_make_clip_tokenizer", tool_path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.write_files(tmp_path, tool.find_bpe_file())
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        assert (tmp_path / name).read_bytes() == (CONFIGS / "clip-tokenizer" / name).read_bytes(), name


@pytest.mark.parametrize("text", PROMPTS)
def test_ids_equal_reference(tokenizer, reference, text):
    assert tokenize(tokenizer, text) == reference.encode(text)


def test_known_ids(tokenizer):
    # "a photo of a cat" in CLIP ViT-L/14's vocabulary; the comma is 267
    assert tokenize(tokenizer, "a photo of a cat") == [320, 1125, 539, 320, 2368]
    assert tokenize(tokenizer, ",") == [267]


def test_tokenize_many_keeps_order_and_does_not_truncate(tokenizer, reference):
    long_text = ", ".join(["a red apple"] * 60)
    out = tokenize_many(tokenizer, ["cat", long_text, ""])
    assert out[0] == reference.encode("cat")
    assert out[1] == reference.encode(long_text) and len(out[1]) > 77
    assert out[2] == []
    assert tokenize_many(tokenizer, []) == []


def test_missing_files_name_the_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="vocab.json"):
        load_clip_tokenizer(tmp_path)
