"""CLIP interrogation as A1111 does it: a BLIP caption, then the best phrases of each category by CLIP similarity.

Both models are Hugging Face folders read by `transformers` with `local_files_only` (docs/interrogate.md says
which). Pictures are prepared here as A1111 prepares them (bicubic resize, CLIP's mean and std), so no image
processor files are needed; the sizes come from each model's config.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from modules.errors import ModelLoadError

TEXT_BATCH = 256  # phrases encoded at once: a 1500-line list in one batch would need gigabytes of activations
TEXT_CACHE_SIZE = 16  # category lists whose text features are kept (they do not depend on the image)
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


@dataclass
class HFModel:
    """A transformers model with its tokenizer and the square input side of its vision tower."""

    model: Any  # BlipForConditionalGeneration or CLIPModel: used through the methods of the one it is
    tokenizer: Any  # the model folder's transformers tokenizer
    image_size: int
    folder: Path
    text_cache: dict = field(default_factory=dict)  # phrases → normalized text features (CPU), CLIP only


def load_hf(folder: Path, kind: str, device: str, dtype) -> HFModel:
    """BLIP (`kind="blip"`) or CLIP from a local folder; never reaches the network."""
    from transformers import AutoTokenizer, BlipForConditionalGeneration, CLIPModel

    model_class = BlipForConditionalGeneration if kind == "blip" else CLIPModel
    try:
        model: Any = model_class.from_pretrained(folder, local_files_only=True, dtype=dtype)  # one of two classes
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise ModelLoadError(str(folder), f"not a loadable {kind.upper()} folder ({type(e).__name__}: {e})") from None
    model.eval().to(device)
    return HFModel(model, tokenizer, int(model.config.vision_config.image_size), folder)


def normalized(picture: Image.Image) -> np.ndarray:
    """(1, 3, H, W) float32, CLIP-normalized."""
    x = np.asarray(picture.convert("RGB"), dtype=np.float32) / 255  # (H, W, 3)
    return ((x - MEAN) / STD).transpose(2, 0, 1)[None]  # (1, 3, H, W)


def blip_pixels(image: Image.Image, side: int) -> np.ndarray:
    """BLIP's input: the whole picture squeezed to side×side.

    >>> blip_pixels(Image.new("RGB", (40, 20)), 16).shape
    (1, 3, 16, 16)
    """
    return normalized(image.convert("RGB").resize((side, side), Image.Resampling.BICUBIC))


def clip_pixels(image: Image.Image, side: int) -> np.ndarray:
    """CLIP's input: shorter side to `side`, then the centre square.

    >>> clip_pixels(Image.new("RGB", (40, 20)), 16).shape
    (1, 3, 16, 16)
    """
    image = image.convert("RGB")
    scale = side / min(image.size)
    w, h = max(side, round(image.width * scale)), max(side, round(image.height * scale))
    resized = image.resize((w, h), Image.Resampling.BICUBIC)
    left, top = (w - side) // 2, (h - side) // 2
    return normalized(resized.crop((left, top, left + side, top + side)))


def _tensor(pixels: np.ndarray, model):
    import torch

    weight = next(model.parameters())
    return torch.from_numpy(pixels).to(weight.device, weight.dtype)


def blip_caption(blip: HFModel, image: Image.Image, num_beams: int, min_length: int, max_length: int) -> str:
    """One sentence, beam search without sampling (A1111's settings `interrogate_clip_*`)."""
    import torch

    with torch.no_grad():
        tokens = blip.model.generate(pixel_values=_tensor(blip_pixels(image, blip.image_size), blip.model),
                                     num_beams=num_beams, do_sample=False, min_length=min_length,
                                     max_length=max(max_length, min_length))
    return blip.tokenizer.decode(tokens[0], skip_special_tokens=True).strip()


def _features(output):
    """transformers 5 wraps projected features in an output object; older releases return the tensor."""
    return output if hasattr(output, "norm") else output.pooler_output


def image_features(clip: HFModel, image: Image.Image):
    import torch

    with torch.no_grad():
        features = _features(clip.model.get_image_features(
            pixel_values=_tensor(clip_pixels(image, clip.image_size), clip.model))).float()  # (1, D)
    return features / features.norm(dim=-1, keepdim=True)


def text_features(clip: HFModel, items: tuple[str, ...]):
    """Normalized CLIP text features of `items` (items, D) on the CPU, encoded in batches and remembered."""
    import torch

    cached = clip.text_cache.get(items)
    if cached is not None:
        return cached
    limit = int(clip.model.config.text_config.max_position_embeddings)
    device = next(clip.model.parameters()).device
    parts = []
    with torch.no_grad():
        for start in range(0, len(items), TEXT_BATCH):
            tokens = clip.tokenizer(list(items[start:start + TEXT_BATCH]), padding=True, truncation=True,
                                    max_length=limit, return_tensors="pt")
            out = clip.model.get_text_features(**{k: v.to(device) for k, v in tokens.items()})
            parts.append(_features(out).float().cpu())  # (batch, D)
    text = torch.cat(parts)
    text = text / text.norm(dim=-1, keepdim=True)  # (items, D)
    if len(clip.text_cache) >= TEXT_CACHE_SIZE:
        clip.text_cache.clear()
    clip.text_cache[items] = text
    return text


def rank(clip: HFModel, features, items: tuple[str, ...], topn: int) -> list[tuple[str, float]]:
    """The `topn` phrases closest to the image, with A1111's score: softmax over the category of 100·cosine."""
    text = text_features(clip, items)  # (items, D)
    probs = (100.0 * features.cpu() @ text.T).softmax(dim=-1)[0]  # (items,)
    top = probs.topk(min(topn, len(items)))
    return [(items[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist())]
