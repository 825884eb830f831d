"""The narrow set of long-lived services a pipeline run may use (InvokeAI-style context, no globals)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.paths import Paths


@dataclass(frozen=True)
class PipelineServices:
    models: Any  # modules.models.manager.ModelManager
    samplers: Any  # modules.sampling.registry.SamplerRegistry
    conditioning: Any  # modules.pipeline.prompting.PromptConditioning (a ConditioningCache)
    saver: Any  # modules.imaging.saving.ImageSaver
    paths: Paths
    version: str
    embeddings: Any = None  # modules.conditioning.embeddings.EmbeddingDatabase (also inside `conditioning`)
    loras: Any = None  # modules.models.lora.LoraLibrary
    styles: Any = None  # modules.prompts.styles.StyleDatabase
    upscalers: Any = None  # modules.upscalers.Upscalers (hires fix, img2img resize, Extras)
    controlnets: Any = None  # modules.controlnet.library.ControlNetLibrary (models/ControlNet, loaded networks)
    controlnet_preprocessors: Any = None  # modules.controlnet.preprocessors.Registry (annotator files, their networks)
