"""The CLIP ViT-L/14 tokenizer, loaded from the files shipped in `configs/clip-tokenizer/` (never from a hub).

Transformers 5 has only the `tokenizers`-backed `CLIPTokenizer`; its normalizer does NFC, whitespace folding and
lower-casing but not CLIP's `ftfy.fix_text` and double `html.unescape` (OpenAI CLIP's `basic_clean`). `tokenize`
adds that cleaning in front, so ids match CLIP's own `SimpleTokenizer` (Radford et al. 2021).
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import ftfy

from modules.errors import ModelLoadError

if TYPE_CHECKING:
    from transformers import CLIPTokenizer

TOKENIZER_SUBDIR = "clip-tokenizer"
REQUIRED_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")


def load_clip_tokenizer(configs_dir: Path) -> CLIPTokenizer:
    """Load the tokenizer from `configs_dir/clip-tokenizer` (or `configs_dir` itself if it holds the files).

    transformers is imported here, not at the top: the page is built before any prompt is tokenized
    (docs/architecture.md §4)."""
    from transformers import CLIPTokenizer

    configs_dir = Path(configs_dir)
    folder = configs_dir / TOKENIZER_SUBDIR if (configs_dir / TOKENIZER_SUBDIR).is_dir() else configs_dir
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(
            str(folder), f"CLIP tokenizer files missing: {', '.join(missing)} "
            "(regenerate them with tools/make_clip_tokenizer.py)"
        )
    return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)


def clean_text(text: str) -> str:
    """OpenAI CLIP's cleaning: fix mojibake, unescape HTML twice, fold whitespace, lower-case.

    >>> clean_text("  A  &amp;amp;  B\\n")
    'a & b'
    >>> clean_text("ﬁne CAFÃ©")
    'fine café'
    """
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text))
    return " ".join(text.split()).lower()


def tokenize(tokenizer: CLIPTokenizer, text: str) -> list[int]:
    """Token ids of `text` without BOS/EOS and without truncation."""
    return tokenize_many(tokenizer, [text])[0]


def tokenize_many(tokenizer: CLIPTokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text (one call into the tokenizer for the whole list)."""
    if not texts:
        return []
    cleaned = [clean_text(t) for t in texts]
    encoded = tokenizer(cleaned, add_special_tokens=False, truncation=False, verbose=False)
    return [list(ids) for ids in encoded["input_ids"]]
