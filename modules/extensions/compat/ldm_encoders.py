"""`ldm.modules.encoders.modules`: the text encoder classes of the Stable Diffusion repository. Extensions test
`shared.sd_model.cond_stage_model.wrapped` against them (SD 1.x: FrozenCLIPEmbedder) and read its `tokenizer` and
`transformer`; for the loaded SD 1.x model that object is a FrozenCLIPEmbedder over Easel's own CLIP tokenizer and
text model (compat/sd_model_view.py). Built directly, a FrozenCLIPEmbedder loads its weights as the original does."""
from __future__ import annotations

from torch import nn


class AbstractEncoder(nn.Module):
    def encode(self, *args, **kwargs):
        raise NotImplementedError("a subclass encodes")


class FrozenCLIPEmbedder(AbstractEncoder):
    """CLIP ViT-L/14's text model (Hugging Face transformers): text → hidden states [B, 77, 768]."""

    LAYERS = ("last", "pooled", "hidden")

    def __init__(self, version="openai/clip-vit-large-patch14", device="cpu", max_length=77, freeze=True,
                 layer="last", layer_idx=None):
        from transformers import CLIPTextModel, CLIPTokenizer

        super().__init__()
        self._setup(CLIPTokenizer.from_pretrained(version), CLIPTextModel.from_pretrained(version), device,
                    max_length, layer, layer_idx)
        if freeze:
            self.freeze()

    @classmethod
    def over(cls, tokenizer, transformer, device=None, max_length: int = 77) -> FrozenCLIPEmbedder:
        """One over a tokenizer and text model already loaded (the loaded checkpoint's)."""
        self = cls.__new__(cls)
        AbstractEncoder.__init__(self)
        self._setup(tokenizer, transformer, device, max_length, "last", None)
        return self

    def _setup(self, tokenizer, transformer, device, max_length, layer, layer_idx) -> None:
        if layer not in self.LAYERS:
            raise ValueError(f"layer must be one of {', '.join(self.LAYERS)}, not {layer!r}")
        self.tokenizer, self.transformer = tokenizer, transformer
        self.device, self.max_length, self.layer, self.layer_idx = device, max_length, layer, layer_idx

    def freeze(self) -> None:
        self.transformer = self.transformer.eval()
        for param in self.parameters():
            param.requires_grad = False

    def forward(self, text):
        batch = self.tokenizer(text, truncation=True, max_length=self.max_length, return_length=True,
                               return_overflowing_tokens=False, padding="max_length", return_tensors="pt")
        tokens = batch["input_ids"].to(self.transformer.device)  # [B, 77]
        out = self.transformer(input_ids=tokens, output_hidden_states=self.layer == "hidden")
        if self.layer == "last":
            return out.last_hidden_state  # [B, 77, C]
        if self.layer == "pooled":
            return out.pooler_output[:, None, :]  # [B, 1, C]
        return out.hidden_states[self.layer_idx]  # [B, 77, C]

    def encode(self, text):
        return self(text)


class FrozenOpenCLIPEmbedder(AbstractEncoder):
    """OpenCLIP ViT-H/14's text model of SD 2.x. Easel loads SD 2.x text encoders as Hugging Face CLIP models
    (modules/models), so no object of this class exists in Easel; the class is here for `isinstance` checks, and
    building one says so."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("Easel has no FrozenOpenCLIPEmbedder: its SD 2.x text encoder is a Hugging Face CLIP "
                           "model (docs/a1111-compat.md); build an OpenCLIP model with the open_clip package")
