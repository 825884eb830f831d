"""The narrow set of long-lived services a pipeline run may use (InvokeAI-style context, no globals)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.paths import Paths


@dataclass(frozen=True)
class PipelineServices:
    models: Any  # modules.models.manager.ModelManager
    samplers: Any  # modules.sampling.registry.SamplerRegistry
    conditioning: Any  # modules.conditioning.text.ConditioningCache
    saver: Any  # modules.imaging.saving.ImageSaver
    paths: Paths
    version: str
    upscalers: Any = None  # modules.upscalers.Upscalers (hires fix, img2img resize, Extras)
