"""The narrow set of long-lived services a pipeline run may use (InvokeAI-style context, no globals)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modules.paths import Paths

if TYPE_CHECKING:  # the API and the page start without torch: these modules are imported when the App is built
    from modules.conditioning.embedding_db import EmbeddingDatabase
    from modules.controlnet.library import ControlNetLibrary
    from modules.controlnet.preprocessors.registry import Registry as PreprocessorRegistry
    from modules.imaging.saving import ImageSaver
    from modules.models.lora_library import LoraLibrary
    from modules.models.manager import ModelManager
    from modules.pipeline.conditioning_service import PromptConditioning
    from modules.prompts.styles import StyleDatabase
    from modules.sampling.registry import SamplerRegistry
    from modules.upscalers.service import Upscalers


@dataclass(frozen=True)
class PipelineServices:
    models: ModelManager
    samplers: SamplerRegistry
    conditioning: PromptConditioning  # a ConditioningCache keyed by prompt, model and text-encoder weights
    saver: ImageSaver
    paths: Paths
    version: str
    embeddings: EmbeddingDatabase | None = None  # also inside `conditioning`
    loras: LoraLibrary | None = None
    styles: StyleDatabase | None = None
    upscalers: Upscalers | None = None  # hires fix, img2img resize, Extras
    controlnets: ControlNetLibrary | None = None  # models/ControlNet and the loaded networks
    controlnet_preprocessors: PreprocessorRegistry | None = None  # annotator files and their networks
