"""Infotext: the `parameters` text that every image carries, written and read as A1111 1.10 does.

The format is three parts: the prompt (any number of lines), an optional `Negative prompt: ...` part (which may
itself span lines), and one last line of `Key: value` pairs joined by ", ". A1111's reader is a regex over that last
line; images from A1111 and from Easel must both read back field for field, so the writer here stays inside what
that regex can undo.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from modules.errors import InvalidInput

# The fixed order of A1111 1.10's `create_infotext`; keys not listed follow in the order given.
INFOTEXT_KEY_ORDER: tuple[str, ...] = (
    "Steps",
    "Sampler",
    "Schedule type",
    "CFG scale",
    "Image CFG scale",
    "Seed",
    "Face restoration",
    "Size",
    "Model hash",
    "Model",
    "FP8 weight",
    "Cache FP16 weight for LoRA",
    "VAE hash",
    "VAE",
    "Variation seed",
    "Variation seed strength",
    "Seed resize from",
    "Denoising strength",
    "Conditional mask weight",
    "Clip skip",
    "ENSD",
    "Token merging ratio",
    "Token merging ratio hr",
    "Init image hash",
    "RNG",
    "Tiling",
)

# Written after every other key, in this order (A1111 appends `Version`, then `User`).
INFOTEXT_TAIL_KEYS: tuple[str, ...] = ("Version", "User")

# A1111's `parse_generation_parameters` fills these when an infotext lacks them, so that pasting an old or
# minimal infotext resets the field to the value the image was actually made with. Values read from the text are
# strings; these fill-ins keep the Python type A1111 gives them (numbers stay numbers in /png-info's JSON).
INFOTEXT_DEFAULTS: tuple[tuple[str, object], ...] = (
    ("Clip skip", "1"),
    ("Hires resize-1", 0),
    ("Hires resize-2", 0),
    ("Hires sampler", "Use same sampler"),
    ("Hires schedule type", "Use same scheduler"),
    ("Hires checkpoint", "Use same checkpoint"),
    ("Hires prompt", ""),
    ("Hires negative prompt", ""),
    ("Mask mode", "Inpaint masked"),
    ("Masked content", "original"),
    ("Inpaint area", "Whole picture"),
    ("Masked area padding", 32),
    ("RNG", "GPU"),
    ("Schedule type", "Automatic"),
    ("Schedule max sigma", 0),
    ("Schedule min sigma", 0),
    ("Schedule rho", 0),
    ("VAE Encoder", "Full"),
    ("VAE Decoder", "Full"),
    ("FP8 weight", "Disable"),
)

# A1111's `infotext_versions.backcompat` (setting `auto_backcompat`, on by default): images made before these
# versions get the flags that reproduce them.
V160, V170_TSNR, V180 = (1, 6, 0), (1, 7, 0, 225), (1, 8, 0)

NEGATIVE_PREFIX = "Negative prompt:"

# A1111's `re_param`: a key (word character, then words, spaces, '-', '/'), a colon, then a JSON string or text up
# to the next comma.
RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
RE_IMAGE_SIZE = re.compile(r"^(\d+)x(\d+)$")
RE_KEY = re.compile(r"\w[\w \-/]+")
# what in a key would break the pairs after it apart (other odd characters only cut the key short when read back)
RE_KEY_BREAKS_LINE = re.compile(r'[,:"\n]')

# A last line with fewer pairs than this is prompt text, not parameters (A1111).
MIN_PARAM_PAIRS = 3


def format_value(value: object) -> str:
    """One value as A1111 prints it: `str()`, except that a whole float prints without `.0`.

    A1111 prints `str(value)`; its UI hands sliders over as JSON numbers, so CFG scale 7 arrives as the int 7 and
    prints `7`, while 7.5 prints `7.5`. Easel's typed requests hold floats, so whole floats are printed as ints to
    give users the text they know from A1111's UI.

    >>> format_value(7.0), format_value(7.5), format_value(20), format_value(0.75), format_value(True)
    ('7', '7.5', '20', '0.75', 'True')
    >>> format_value(1e20), format_value(float("nan"))
    ('100000000000000000000', 'nan')
    """
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def quote(text: str) -> str:
    """JSON-quote a value that the last-line regex could not read back bare.

    A1111 quotes values containing `,`, `:` or a newline; Easel also quotes a value that starts with `"` (A1111
    would otherwise unquote it on reading), which A1111's reader understands.

    >>> quote("Euler a"), quote("a: 1, b: 2"), quote('"quoted"')
    ('Euler a', '"a: 1, b: 2"', '"\\\\"quoted\\\\""')
    """
    if "," in text or ":" in text or "\n" in text or text.startswith('"'):
        return json.dumps(text, ensure_ascii=False)
    return text


def unquote(text: str) -> str:
    """Undo `quote`; text that is not a valid JSON string stays as it is (A1111's `unquote`).

    >>> unquote('"a: 1, b: 2"'), unquote('plain'), unquote('"broken')
    ('a: 1, b: 2', 'plain', '"broken')
    """
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def ordered_params(params: Mapping[str, object]) -> list[tuple[str, object]]:
    """Known keys in the fixed order, then other keys as given, then `Version` and `User`; None values dropped."""
    known = [k for k in INFOTEXT_KEY_ORDER if k in params]
    extra = [k for k in params if k not in INFOTEXT_KEY_ORDER and k not in INFOTEXT_TAIL_KEYS]
    tail = [k for k in INFOTEXT_TAIL_KEYS if k in params]
    return [(k, params[k]) for k in known + extra + tail if params[k] is not None]


def format_params_line(params: Mapping[str, object]) -> str:
    """The last line: `Key: value` pairs joined by ", ".

    A pair whose value equals its key is written as the key alone, as A1111 does. A key A1111's reader takes only
    the end of (an extension's "Hires. Fix") is written as A1111 writes it; one that would break the line apart
    (a comma, colon, quote or newline) is refused.

    >>> format_params_line({"Seed": 1, "Steps": 20, "Version": "v1", "Lora hashes": "a: 1, b: 2", "VAE": None})
    'Steps: 20, Seed: 1, Lora hashes: "a: 1, b: 2", Version: v1'
    >>> format_params_line({"Steps": 20, "Apply To Hires. Fix": False})
    'Steps: 20, Apply To Hires. Fix: False'
    """
    parts = []
    for key, value in ordered_params(params):
        if not RE_KEY.fullmatch(key) and (len(key) < 2 or RE_KEY_BREAKS_LINE.search(key)):
            raise InvalidInput(
                "infotext key", f"{key!r} cannot be read back",
                "at least 2 characters, none of them a comma, colon, quote or newline",
            )
        parts.append(key if key == value else f"{key}: {quote(format_value(value))}")
    return ", ".join(parts)


def format_infotext(prompt: str, negative_prompt: str, params: Mapping[str, object]) -> str:
    """The whole infotext, as A1111's `create_infotext` writes it (stripped of outer whitespace).

    >>> print(format_infotext("a castle, (masterpiece:1.2)", "blurry", {
    ...     "Steps": 20, "Sampler": "DPM++ 2M", "Schedule type": "Karras", "CFG scale": 7.0, "Seed": 1234567890,
    ...     "Size": "512x768", "Version": "v1.10.1", "Model": "v1-5-pruned-emaonly", "Model hash": "6ce0161689"}))
    a castle, (masterpiece:1.2)
    Negative prompt: blurry
    Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 512x768, \
Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1
    >>> format_infotext("a cat", "", {"Steps": 20})
    'a cat\\nSteps: 20'
    """
    negative = f"\n{NEGATIVE_PREFIX} {negative_prompt}" if negative_prompt else ""
    return f"{prompt}{negative}\n{format_params_line(params)}".strip()


def parse_params_line(line: str) -> dict[str, str]:
    """Key/value pairs of a last line; quoted values unquoted, `WxH` values split into `Key-1` and `Key-2`.

    >>> parse_params_line('Steps: 20, Size: 512x768, Lora hashes: "a: 1, b: 2"')
    {'Steps': '20', 'Size-1': '512', 'Size-2': '768', 'Lora hashes': 'a: 1, b: 2'}
    """
    res: dict[str, str] = {}
    for key, value in RE_PARAM.findall(line):
        if value[:1] == '"' and value[-1:] == '"':
            value = unquote(value)
        size = RE_IMAGE_SIZE.match(value)
        if size is not None:
            res[f"{key}-1"], res[f"{key}-2"] = size.group(1), size.group(2)
        else:
            res[key] = value
    return res


def split_prompts(lines: list[str]) -> tuple[str, str]:
    """Prompt and negative prompt from the lines before the parameters, joined as A1111 joins them.

    Each line is stripped; empty lines before the first text of a part are dropped (A1111 appends a newline only
    once the part is non-empty).

    >>> split_prompts(["", "a,", " b ", "Negative prompt: c", "", "d"])
    ('a,\\nb', 'c\\n\\nd')
    """
    parts = {"prompt": "", "negative": ""}
    part = "prompt"
    for line in lines:
        line = line.strip()
        if line.startswith(NEGATIVE_PREFIX):
            part = "negative"
            line = line[len(NEGATIVE_PREFIX):].strip()
        parts[part] += ("\n" if parts[part] else "") + line
    return parts["prompt"], parts["negative"]


def old_hires_first_pass_size(width: int, height: int) -> tuple[int, int]:
    """First-pass size of A1111's pre-1.0 hires fix: about 512x512 pixels, rounded up to multiples of 64.

    >>> old_hires_first_pass_size(1024, 1024), old_hires_first_pass_size(1024, 768)
    ((512, 512), (640, 448))
    """
    scale = math.sqrt(512 * 512 / (width * height))
    return math.ceil(scale * width / 64) * 64, math.ceil(scale * height / 64) * 64


def restore_old_hires_params(res: dict, final_size_sliders: bool = False) -> None:
    """Old infotexts wrote `First pass size` and the final `Size`; turn them into `Size` and `Hires resize`
    (whole numbers, as A1111 stores them). With `final_size_sliders` (the use_old_hires_fix_width_height setting:
    width and height are the final size) a `Hires resize` becomes the `Size` instead.

    >>> res = {"Size-1": "512", "Size-2": "512", "Hires resize-1": "1024", "Hires resize-2": "768"}
    >>> restore_old_hires_params(res, final_size_sliders=True); res["Size-1"], res["Size-2"]
    (1024, 768)
    """
    if final_size_sliders:
        hires_w, hires_h = int(res.get("Hires resize-1", 0)), int(res.get("Hires resize-2", 0))
        if hires_w and hires_h:
            res["Size-1"], res["Size-2"] = hires_w, hires_h
            return
    first_w, first_h = res.get("First pass size-1"), res.get("First pass size-2")
    if first_w is None or first_h is None:
        return
    width, height = int(res.get("Size-1", "512")), int(res.get("Size-2", "512"))
    fw, fh = int(first_w), int(first_h)
    if fw == 0 or fh == 0:
        fw, fh = old_hires_first_pass_size(width, height)
    res["Size-1"], res["Size-2"] = fw, fh
    res["Hires resize-1"], res["Hires resize-2"] = width, height


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """A1111's version text → comparable numbers: `v1.7.0-225-gabc` → (1, 7, 0, 225); None if unreadable.

    >>> version_tuple("v1.10.1"), version_tuple("v1.7.0-225-g1234abc"), version_tuple("1.6.0"), version_tuple("x")
    ((1, 10, 1), (1, 7, 0, 225), (1, 6, 0), None)
    """
    match = re.match(r"v?(\d+(?:\.\d+)*)(?:-(\d+)-.*|-\w*)?$", (text or "").strip())
    if match is None:
        return None
    numbers = tuple(int(n) for n in match.group(1).split("."))
    return numbers + ((int(match.group(2)),) if match.group(2) else ())


def backcompat(res: dict) -> None:
    """Flags A1111 adds for images of older versions (its `infotext_versions.backcompat`)."""
    version = version_tuple(res.get("Version"))
    if version is None:
        return
    if version < V160 and "[" in res.get("Prompt", ""):
        res["Old prompt editing timelines"] = True
    if version < V160 and res.get("Sampler", "") in ("DDIM", "PLMS"):
        res["Pad conds v0"] = True
    if version < V170_TSNR:
        res["Downcast alphas_cumprod"] = True
    if version < V180 and res.get("Refiner"):
        res["Refiner switch by sampling steps"] = True


def uses_emphasis(prompt: str, negative_prompt: str) -> bool:
    """Whether either prompt weights any text (A1111 then fills `Emphasis: Original` when the key is missing).

    >>> uses_emphasis("a (cat)", ""), uses_emphasis("a cat BREAK dog", "no weights")
    (True, False)
    """
    from modules.prompts.attention import parse_prompt_attention

    parts = parse_prompt_attention(prompt) + parse_prompt_attention(negative_prompt)
    return any(weight != 1.0 and text != "BREAK" for text, weight in parts)


def fill_defaults(res: dict, backcompat_flags: bool = True, final_size_sliders: bool = False) -> None:
    """A1111's fixups for keys an infotext leaves out (see INFOTEXT_DEFAULTS), the `Hypernet` prompt tag, old hires
    sizes (`final_size_sliders`: see restore_old_hires_params) and the version flags (`backcompat_flags`: A1111's
    `auto_backcompat`), in A1111's order."""
    hypernet = res.get("Hypernet")
    if hypernet is not None:
        res["Prompt"] += f"<hypernet:{hypernet}:{res.get('Hypernet strength', '1.0')}>"
    for key, value in INFOTEXT_DEFAULTS:
        res.setdefault(key, value)
    if res["FP8 weight"] != "Disable":
        res.setdefault("Cache FP16 weight for LoRA", False)
    if "Emphasis" not in res and uses_emphasis(res["Prompt"], res["Negative prompt"]):
        res["Emphasis"] = "Original"
    res.setdefault("Refiner switch by sampling steps", False)
    restore_old_hires_params(res, final_size_sliders)
    if backcompat_flags:
        backcompat(res)


def parse_infotext(text: str, *, defaults: bool = True, backcompat_flags: bool = True) -> dict[str, object]:
    """Every field of an infotext, as A1111's `parse_generation_parameters` returns it: values read from the text
    are strings; the fill-ins for missing keys keep A1111's types (`Masked area padding: 32`, `Hires resize-1: 0`).

    `defaults=False` leaves out A1111's fixups for missing keys (the raw fields only, all strings);
    `backcompat_flags=False` leaves out the flags for older versions' images (A1111's `auto_backcompat` off).

    >>> info = parse_infotext('''a castle, (masterpiece:1.2)
    ... Negative prompt: blurry, lowres
    ... Steps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1234567890, Size: 512x768, Version: v1.10.1''')
    >>> info["Prompt"], info["Negative prompt"], info["Size-1"], info["Size-2"], info["CFG scale"]
    ('a castle, (masterpiece:1.2)', 'blurry, lowres', '512', '768', '7')
    >>> info["Clip skip"], info["Schedule type"], info["Masked area padding"], info["Hires schedule type"]
    ('1', 'Automatic', 32, 'Use same scheduler')
    >>> parse_infotext("just a prompt, Steps: 20", defaults=False)
    {'Prompt': 'just a prompt, Steps: 20', 'Negative prompt': ''}
    """
    *lines, last = text.replace("\r\n", "\n").strip().split("\n")
    if len(RE_PARAM.findall(last)) < MIN_PARAM_PAIRS:
        lines.append(last)
        last = ""
    prompt, negative = split_prompts(lines)
    res: dict[str, object] = {"Prompt": prompt, "Negative prompt": negative, **parse_params_line(last)}
    if defaults:
        fill_defaults(res, backcompat_flags)
    return res
