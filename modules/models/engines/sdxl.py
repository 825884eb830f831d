"""SDXL base (and its 9-channel inpainting variant): CLIP ViT-L/14 and OpenCLIP ViT-bigG/14 side by side, a pooled
text embedding and size/crop numbers as added UNet conditioning, latents ×0.13025, native 1024 px.

Prompts take A1111's classic path (75-token chunks, emphasis, BREAK; AND and prompt editing upstream) once for both
encoders, as A1111's `sd_models_xl.get_learned_conditioning` does through sgm's conditioner: each chunk's
penultimate hidden states (no final layer norm) of CLIP-L [.., 768] and bigG [.., 1280] are weighted by emphasis
each on its own and joined to [.., 2048]; bigG pads with id 0 after a chunk's end token; the pooled output is
bigG's projected end token of the first chunk. With A1111's `sdxl_clip_l_skip` on, CLIP-L is read at the clip
skip's layer instead (1: its last, still without the final layer norm); bigG stays at its penultimate. Textual
inversion: an SDXL embedding's clip_l vectors go into CLIP-L's token embeddings, its clip_g ones into bigG's; an
SD 1.x embedding is skipped. An empty negative prompt is all zeros (sgm's `force_zero_embeddings`). The UNet's
time ids are (height, width, crop top, crop left, height, width): the size is the latent's (A1111 passes the
pass's width and height, which the latent has), the crop A1111's `sdxl_crop_top/left` settings.
`docs/model-families.md` (SDXL) has the details.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from modules.conditioning.cache import ConditioningKey
from modules.conditioning.chunks import DEFAULT_COMMA_BACKTRACK
from modules.conditioning.embeddings import embedding_fixes
from modules.conditioning.emphasis import DEFAULT_EMPHASIS, apply_emphasis, get_emphasis
from modules.conditioning.prompt_tokens import prompt_to_chunks
from modules.conditioning.types import Conditioning
from modules.errors import InvalidInput, ModelLoadError
from modules.models.components import load_openclip_with_projection, load_text_encoder, load_unet, load_vae
from modules.models.engines.base import Engine, EngineContext, TextSlot
from modules.models.engines.sd2 import pad_after_end
from modules.models.probes import SDXL_CLIP_G_PREFIX, SDXL_CLIP_L_PREFIX
from modules.models.lora import module_map
from modules.models.model_config import CLIP_L_CONFIG, ModelSpec

# OpenCLIP ViT-bigG/14's text tower, all 32 blocks (the pooled output needs the last), for yamls without text_config
BIG_G_TEXT: Mapping[str, Any] = MappingProxyType({  # CLIPTextConfig's keyword arguments
    "hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32, "num_attention_heads": 20,
    "vocab_size": 49408, "max_position_embeddings": 77, "hidden_act": "gelu", "projection_dim": 1280,
    "layer_norm_eps": 1e-5, "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1})


@dataclasses.dataclass(frozen=True)
class TextTower:
    """One text encoder of the family: its textual-inversion slot, the model, and whether it pads with id 0."""

    slot: str
    model: CLIPTextModel | CLIPTextModelWithProjection
    zero_pad: bool
    lora_prefix: str  # kohya's name for its layers ("lora_te1_", "lora_te2_")


def embedder_text_config(spec: ModelSpec, index: int) -> dict | None:
    """Easel's optional `text_config` (CLIPTextConfig fields) of the yaml's `index`-th conditioner embedder."""
    params = spec.original_config["model"]["params"]
    models = ((params.get("conditioner_config") or {}).get("params") or {}).get("emb_models") or []
    if index >= len(models):
        return None
    config = (models[index].get("params") or {}).get("text_config")
    return dict(config) if config is not None else None


def clip_l_config(spec: ModelSpec, configs_dir: Path, index: int) -> dict:
    config = embedder_text_config(spec, index)
    if config is not None:
        return config
    path = Path(configs_dir) / CLIP_L_CONFIG
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(str(path), f"cannot read the text encoder config ({e})") from None


def time_ids(size: torch.Tensor, cond: Conditioning, names: Sequence[str]) -> torch.Tensor:
    """The UNet's time ids [N, k]: the `added` entries `names` in order, "size" being the image size [N, 2].

    >>> c = Conditioning(torch.zeros(1, 2, 3), None, None, {"crop_coords": torch.tensor([[5.0, 6.0]])})
    >>> time_ids(torch.tensor([[64.0, 96.0]]), c, ("size", "crop_coords", "size")).tolist()
    [[64.0, 96.0, 5.0, 6.0, 64.0, 96.0]]
    """
    parts = [size if name == "size" else cond.added[name].to(size) for name in names]
    return torch.cat(parts, dim=1)  # [N, k]


class SDXLEngine(Engine):
    """SDXL base and inpainting: two text towers, cross-attention width 768 + 1280, pooled text and time ids."""

    a1111_flags = MappingProxyType({"is_sd1": False, "is_sd2": False, "is_sdxl": True, "is_sd3": False,
                                    "is_ssd": False})
    time_id_names: tuple[str, ...] = ("size", "crop_coords", "size")  # A1111: original size, crop, target size
    refiner_only = False

    def __init__(self, unet, vae, towers: Sequence[TextTower], tokenizer, spec: ModelSpec, device_config):
        super().__init__(unet, vae, spec, device_config)
        self.towers, self.tokenizer = tuple(towers), tokenizer

    @classmethod
    def load(cls, source, spec: ModelSpec, context: EngineContext, baked_vae: bool) -> SDXLEngine:
        config, device = context.device_config, torch.device(context.device_config.device)
        unet = load_unet(source, spec, config.dtype, device, config.channels_last, added_time_ids=True)
        clip_l = load_text_encoder(source, spec, context.configs_dir, config.dtype, device,
                                   prefix=SDXL_CLIP_L_PREFIX, config=clip_l_config(spec, context.configs_dir, 0))
        clip_g = load_openclip_with_projection(source, spec, SDXL_CLIP_G_PREFIX,
                                               embedder_text_config(spec, 1) or dict(BIG_G_TEXT), config.dtype,
                                               device)
        vae = load_vae(source, spec, config.vae_dtype, device, True, config.channels_last) if baked_vae else None
        towers = (TextTower("clip_l", clip_l, False, "lora_te1_"), TextTower("clip_g", clip_g, True, "lora_te2_"))
        return cls(unet, vae, towers, context.tokenizer, spec, config)

    # ---- text -----------------------------------------------------------------------------------------------

    @property
    def text_encoder(self):
        """The first text tower (what code written for one CLIP reads, e.g. its token embeddings)."""
        return self.towers[0].model

    @property
    def text_layers(self) -> int:
        return self.text_encoder.config.num_hidden_layers

    @torch.no_grad()
    def _tower_states(self, tower: TextTower, ids: torch.Tensor, back: int = 2,
                      fixes: Sequence | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Token ids [N, 77] → (hidden states of the `back`-th last layer, no final layer norm [N, 77, C] float32,
        projected pooled [N, P] or None). `fixes` (one list per row): textual-inversion vectors for this tower."""
        if tower.zero_pad:
            ids = pad_after_end(ids, self.tokenizer.eos_token_id)  # [N, 77]
        hook: AbstractContextManager[None] = nullcontext()
        if fixes is not None and any(fixes):
            hook = embedding_fixes(tower.model.get_input_embeddings(), fixes, tower.slot)
        with hook:
            out = tower.model(input_ids=ids.to(self.device), output_hidden_states=True)
        pooled = getattr(out, "text_embeds", None)
        return out.hidden_states[-back].float(), None if pooled is None else pooled.float()

    def text_hidden_states(self, input_ids: torch.Tensor, clip_skip: int = 1) -> torch.Tensor:
        """CLIP token ids [B,77] → every tower's penultimate states joined [B,77,ΣC] float32 (A1111 reads SDXL's
        towers at their penultimate layer whatever clip skip says)."""
        return torch.cat([self._tower_states(t, input_ids)[0] for t in self.towers], dim=-1)

    def _encode_chunks(self, chunks, mode, clip_l_back: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        """Chunks → (hidden states [N, 77, ΣC] with emphasis per tower, pooled [N, P] of the last tower); CLIP-L
        is read at its `clip_l_back`-th last layer, bigG at its penultimate."""
        ids = torch.tensor([c.tokens for c in chunks], dtype=torch.long)  # [N, 77]
        multipliers = torch.tensor([c.multipliers for c in chunks], dtype=torch.float32)  # [N, 77]
        fixes = [c.fixes for c in chunks]
        states, pooled = [], None
        for tower in self.towers:
            back = clip_l_back if tower.slot == "clip_l" else 2
            z, tower_pooled = self._tower_states(tower, ids, back, fixes)
            states.append(apply_emphasis(z, multipliers, mode))  # [N, 77, C_i]
            pooled = tower_pooled if tower_pooled is not None else pooled
        if pooled is None:
            raise ValueError("none of the SDXL text towers gives a pooled output (bigG needs its text projection)")
        return torch.cat(states, dim=-1), pooled  # [N, 77, ΣC], [N, P]

    def _clip_l_back(self, clip_skip: int, clip_l_skip: bool) -> int:
        """Which layer from the end CLIP-L is read at: the penultimate (2), or with A1111's `sdxl_clip_l_skip` on,
        the clip skip's (1: the last layer, still without the final layer norm)."""
        tower = next((t for t in self.towers if t.slot == "clip_l"), None)
        if not clip_l_skip or tower is None:
            return 2
        layers = tower.model.config.num_hidden_layers
        if not isinstance(clip_skip, int) or not 1 <= clip_skip <= layers:
            raise InvalidInput("clip_skip", f"{clip_skip!r} is out of range for SDXL's CLIP-L", f"1 to {layers}")
        return clip_skip

    def encode_prompt(self, texts: Sequence[str], clip_skip: int, **options: Any) -> list[Conditioning]:
        """The base signature; the options SDXL takes are the keywords of `_encode_prompt` (others: TypeError)."""
        return self._encode_prompt(texts, clip_skip, **options)

    def _encode_prompt(self, texts: Sequence[str], clip_skip: int, *, tokenizer=None,
                      emphasis: str = DEFAULT_EMPHASIS, comma_backtrack: int = DEFAULT_COMMA_BACKTRACK,
                      cache=None, model_hash: str = "", embeddings=None, negative: bool = False,
                      crop: tuple[int, int] = (0, 0), aesthetic_score: float | None = None,
                      clip_l_skip: bool = False) -> list[Conditioning]:
        """One Conditioning [1, 77*k, ΣC] with pooled [1, P] and `added` per text. `clip_skip` acts on CLIP-L only
        and only with `clip_l_skip` (A1111's `sdxl_clip_l_skip`); `embeddings` (an EmbeddingDatabase loaded for
        this model) gives each tower its own vector set of an SDXL embedding."""
        tokenizer = tokenizer if tokenizer is not None else self.tokenizer
        mode = get_emphasis(emphasis)
        added = self._added(crop, aesthetic_score)
        back = self._clip_l_back(clip_skip, clip_l_skip)
        tag = f"{model_hash}|sdxl" + (f"|ti:{embeddings.key}" if embeddings is not None else "")
        keys = {t: ConditioningKey(tag, t, back, mode.name, comma_backtrack) for t in texts}
        results: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if cache is not None:
            for text, key in keys.items():
                hit, pooled = cache.get(key), cache.get(dataclasses.replace(key, model_hash=key.model_hash + "|pooled"))
                if hit is not None and pooled is not None:
                    results[text] = hit, pooled
        todo = [t for t in dict.fromkeys(texts) if t not in results and not (negative and t == "")]
        if todo:
            per_text = [prompt_to_chunks(tokenizer, t, mode.name, comma_backtrack, embeddings)[0] for t in todo]
            z, pooled = self._encode_chunks([c for chunks in per_text for c in chunks], mode, back)  # [Σk, 77, C]
            start = 0
            for text, chunks in zip(todo, per_text):
                results[text] = z[start:start + len(chunks)].reshape(1, -1, z.shape[-1]), pooled[start:start + 1]
                start += len(chunks)
                if cache is not None:
                    cache.put(keys[text], results[text][0])
                    cache.put(dataclasses.replace(keys[text], model_hash=keys[text].model_hash + "|pooled"),
                              results[text][1])
        if negative and "" in texts:
            z, pooled = self._encode_chunks(prompt_to_chunks(tokenizer, "", mode.name, comma_backtrack)[0], mode)
            results[""] = torch.zeros_like(z), torch.zeros_like(pooled)  # sgm's force_zero_embeddings
        return [Conditioning(results[t][0], None, results[t][1], added) for t in texts]

    def _added(self, crop: tuple[int, int], aesthetic_score: float | None) -> dict[str, torch.Tensor]:
        """What the UNet's time ids take from the settings, per row [1, k] (the size comes with the latent)."""
        return {"crop_coords": torch.tensor([[float(crop[0]), float(crop[1])]])}  # [1, 2]: top, left

    def prompt_options(self, opts, negative: bool) -> dict[str, Any]:
        return {"negative": negative, "crop": (opts.sdxl_crop_top, opts.sdxl_crop_left),
                "clip_l_skip": bool(opts.sdxl_clip_l_skip)}

    def text_slots(self) -> dict[str, TextSlot]:
        return {t.slot: TextSlot(t.slot, t.model.config.hidden_size, self.tokenizer) for t in self.towers}

    def lora_module_map(self) -> dict[str, tuple[str, torch.nn.Module]]:
        """kohya's SDXL names: `lora_te1_…` (CLIP-L), `lora_te2_…` (bigG), `lora_unet_…` (LDM or diffusers)."""
        table = {k: v for k, v in module_map(self).items() if k.startswith("lora_unet_")}
        for tower in self.towers:
            for name, module in tower.model.named_modules():
                if isinstance(module, torch.nn.Linear):
                    bare = name.removeprefix("text_model.")
                    for alias in (bare, "text_model." + bare):
                        table[tower.lora_prefix + alias.replace(".", "_")] = ("te", module)
        return table

    def networks(self) -> tuple[torch.nn.Module, ...]:
        return (self.unet, self.vae, *(t.model for t in self.towers))

    # ---- UNet -------------------------------------------------------------------------------------------------

    def unet_forward(self, x: torch.Tensor, t, cond: Conditioning, concat: torch.Tensor | None = None,
                     **options) -> torch.Tensor:
        """As `Engine.unet_forward`, with the image size of the latent x [B, 4, h, w] added to the conditioning."""
        return super().unet_forward(x, t, self._sized(x, cond), concat, **options)

    def _sized(self, x: torch.Tensor, cond: Conditioning) -> Conditioning:
        """`cond` with the image size of the latent x [B, 4, h, w] in its `added` entries."""
        f = self.vae_scale_factor
        size = torch.tensor([[float(x.shape[-2] * f), float(x.shape[-1] * f)]]).expand(len(cond), 2)  # [B, 2]
        return dataclasses.replace(cond, added={**cond.added, "size": size})

    def control_kwargs(self, x: torch.Tensor, cond: Conditioning) -> dict[str, Any]:
        """An SDXL ControlNet takes the UNet's pooled text and time ids for the same latents."""
        return self.unet_kwargs(self._sized(x, cond))

    def unet_kwargs(self, cond: Conditioning) -> dict[str, Any]:
        if cond.pooled is None or not all(n in cond.added for n in self.time_id_names):
            raise ValueError("an SDXL UNet needs the pooled text embedding and its time ids: encode prompts with "
                             "the model's encode_prompt (a bare cross-attention tensor lacks them)")
        ids = time_ids(cond.added["size"], cond, self.time_id_names)  # [B, 6] (refiner: [B, 5])
        return {"added_cond_kwargs": {"text_embeds": cond.pooled.to(self.device, self.dtype),  # [B, P]
                                      "time_ids": ids.to(self.device, self.dtype)}}
