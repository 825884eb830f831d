"""Tiny interrogation models in the real layouts, built in seconds: a DeepDanbooru `.pt` with A1111's key names at
1/32 width whose tag probabilities the test chooses, and Hugging Face BLIP and CLIP folders."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from modules.interrogate.deepbooru_net import STAGES, block_layout, conv_name
from modules.paths import INSTALL_DIR

# A1111's widths divided by 32: stem, then (bottleneck, output) channels per stage.
STEM = 2
STAGE_WIDTHS = ((2, 8), (4, 16), (8, 32), (16, 64), (32, 128))


def deepbooru_state_dict(probabilities: dict[str, float]) -> dict:
    """Every weight zero except the last block's output bias (ones) and the classifier's first column, so the
    network answers exactly sigmoid(logit(p)) = p for each tag, whatever the image."""
    blocks, head = block_layout()
    sd: dict[str, Any] = {f"{conv_name(0)}.weight": torch.zeros(STEM, 3, 7, 7),
                          f"{conv_name(0)}.bias": torch.zeros(STEM)}
    stage_of = [s for s, stage in enumerate(STAGES) for _ in stage]
    channels = STEM
    for block, stage in zip(blocks, stage_of):
        mid, out = STAGE_WIDTHS[stage]
        a, b, c = block.convs
        for index, shape in ((a, (mid, channels, 1, 1)), (b, (mid, mid, 3, 3)), (c, (out, mid, 1, 1))):
            sd[f"{conv_name(index)}.weight"], sd[f"{conv_name(index)}.bias"] = torch.zeros(shape), torch.zeros(shape[0])
        if block.shortcut is not None:
            sd[f"{conv_name(block.shortcut)}.weight"] = torch.zeros(out, channels, 1, 1)
            sd[f"{conv_name(block.shortcut)}.bias"] = torch.zeros(out)
        channels = out
    sd[f"{conv_name(blocks[-1].convs[2])}.bias"] = torch.ones(channels)
    head_weight = torch.zeros(len(probabilities), channels, 1, 1)
    head_weight[:, 0, 0, 0] = torch.tensor([math.log(p / (1 - p)) for p in probabilities.values()])
    sd[f"{conv_name(head)}.weight"] = head_weight
    sd["tags"] = list(probabilities)
    return sd


def write_deepbooru(models_dir: Path, probabilities: dict[str, float], name="model-resnet_custom_v3.pt") -> Path:
    folder = models_dir / "torch_deepdanbooru"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(deepbooru_state_dict(probabilities), folder / name)
    return folder / name


def tiny_blip(folder: Path) -> None:
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "photo", "of", "cat", "dog", "red", "on",
             "the", "table"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(str(folder / "vocab.txt"), bos_token="[DEC]").save_pretrained(folder)
    text = dict(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=37, max_position_embeddings=64, bos_token_id=5, pad_token_id=0, sep_token_id=3,
                eos_token_id=3)
    vision = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, image_size=32,
                  patch_size=16)
    torch.manual_seed(0)
    BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision, projection_dim=16)) \
        .save_pretrained(folder)


def tiny_clip(folder: Path, winner: str) -> None:
    """A CLIP whose image embedding is, for any image, exactly the text embedding of `winner`: the vision
    tower's last layer norm outputs a constant b, and the projection maps b onto winner's embedding."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    shipped = INSTALL_DIR / "configs" / "clip-tokenizer"
    tokenizer = CLIPTokenizer(str(shipped / "vocab.json"), str(shipped / "merges.txt"))
    layer = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    torch.manual_seed(1)
    model = CLIPModel(CLIPConfig(text_config=dict(vocab_size=49408, max_position_embeddings=77, **layer),
                                 vision_config=dict(image_size=32, patch_size=16, **layer), projection_dim=16))
    with torch.no_grad():
        out = model.get_text_features(**tokenizer([winner], return_tensors="pt"))
        target = (out if isinstance(out, torch.Tensor) else out.pooler_output)[0]  # (16,)
        b = torch.randn(32)
        model.vision_model.post_layernorm.weight.zero_()
        model.vision_model.post_layernorm.bias.copy_(b)
        model.visual_projection.weight.copy_(torch.outer(target, b) / b.dot(b))  # (16, 32): b ↦ target
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="session")
def hf_models(tmp_path_factory) -> Path:
    """models/BLIP/tiny-blip and models/CLIP/tiny-clip (CLIP rigged so "oil painting" wins), built once."""
    models = tmp_path_factory.mktemp("hf") / "models"
    tiny_blip(models / "BLIP" / "tiny-blip")
    tiny_clip(models / "CLIP" / "tiny-clip", "oil painting")
    return models
