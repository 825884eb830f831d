"""Derive the CLIP ViT-L/14 tokenizer files in `configs/clip-tokenizer/` from open-clip's BPE table.

Easel never downloads the tokenizer from a hub: the files are data in the repository, and this script shows where
they come from. The source is OpenAI's `bpe_simple_vocab_16e6.txt.gz` as shipped inside the `open_clip` package
(identical to the one in github.com/openai/CLIP). The construction mirrors CLIP's `SimpleTokenizer.__init__`
(Radford et al. 2021): 256 byte symbols, the same with the end-of-word mark `</w>`, one entry per merge, then the two
special tokens — 49408 ids, `<|startoftext|>` = 49406, `<|endoftext|>` = 49407.

Usage: python tools/make_clip_tokenizer.py [OUT_DIR]   (default: configs/clip-tokenizer next to this script)
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
MAX_LENGTH = 77
MERGE_COUNT = 49152 - 256 - 2  # CLIP keeps merges[1 : 49152-256-2+1]; line 0 is the file's header
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "configs" / "clip-tokenizer"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable character table, as CLIP uses it (printables keep their own character)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))


def find_bpe_file() -> Path:
    """The gzip BPE table inside the installed open_clip package, found without importing the package."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("open_clip is not installed; it ships bpe_simple_vocab_16e6.txt.gz")
    path = Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise SystemExit(f"{path} is missing from the open_clip install")
    return path


def build_vocab_and_merges(bpe_lines: list[str]) -> tuple[dict[str, int], list[str]]:
    """Return (token → id, merges as 'a b' lines) exactly as CLIP's SimpleTokenizer builds them."""
    merges = bpe_lines[1 : MERGE_COUNT + 1]
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(m.split()) for m in merges]
    tokens += [BOS, EOS]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != len(tokens) or len(vocab) != 49408:
        raise SystemExit(f"unexpected vocabulary: {len(tokens)} tokens, {len(vocab)} distinct (expected 49408)")
    return vocab, merges


def tokenizer_config() -> dict:
    """As openai/clip-vit-large-patch14 ships it: pad with `<|endoftext|>`, 77 tokens, lower-casing."""
    return {
        "tokenizer_class": "CLIPTokenizer",
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": EOS,
        "pad_token": EOS,
        "model_max_length": MAX_LENGTH,
        "do_lower_case": True,
        "add_prefix_space": False,
        "errors": "replace",
    }


def special_tokens_map() -> dict:
    return {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}


def write_files(out_dir: Path, bpe_path: Path) -> None:
    with gzip.open(bpe_path) as packed:
        lines = packed.read().decode("utf-8").split("\n")
    vocab, merges = build_vocab_and_merges(lines)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    for name, data in (("tokenizer_config.json", tokenizer_config()),
                       ("special_tokens_map.json", special_tokens_map())):
        (out_dir / name).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    write_files(out_dir, find_bpe_file())
    print(f"wrote CLIP tokenizer files to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
