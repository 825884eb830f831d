"""Collects a run's images: PIL conversion, infotext per image, saving, and A1111's `info` fields."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from modules.imaging.convert import tensor_to_pil
from modules.imaging.infotext import format_infotext
from modules.options import Snapshot
from modules.pipeline.params import RunFacts, infotext_params
from modules.pipeline.request import GenerationRequest
from modules.pipeline.result import GenerationResult
from modules.pipeline.seeds import ImagePlan


class ImageOutputs:
    """Owned by one run: appends each decoded batch, saves it when asked, and builds the result."""

    def __init__(self, services, req: GenerationRequest, opts: Snapshot, facts: RunFacts, kind: str):
        self.services, self.req, self.opts, self.facts, self.kind = services, req, opts, facts, kind
        self.images, self.infotexts, self.saved = [], [], []
        self.job_timestamp = time.strftime("%Y%m%d%H%M%S")

    def infotext(self, prompt: str, negative: str, seed: int, subseed: int) -> str:
        return format_infotext(prompt, negative, infotext_params(self.req, self.facts, seed, subseed))

    def folder(self) -> Path:
        return self.services.paths.data_dir / self.opts[f"outdir_{self.kind}_samples"]

    def add(self, decoded: torch.Tensor, batch: ImagePlan) -> None:
        """`decoded` [B, 3, H, W] in [0, 1], in the batch's seed order."""
        self.add_images(tensor_to_pil(decoded), batch)

    def add_images(self, images: list, batch: ImagePlan) -> None:
        """Finished PIL images (img2img pastes and overlays them first), in the batch's seed order."""
        for image, prompt, negative, seed, subseed in zip(images, batch.prompts,
                                                          batch.negative_prompts, batch.seeds, batch.subseeds):
            text = self.infotext(prompt, negative, seed, subseed)
            image.info["parameters"] = text
            self.images.append(image)
            self.infotexts.append(text)
            if self.req.save_images:
                self.saved.append(self.services.saver.save_image(
                    image, self.folder(), seed=seed, infotext=text, fmt=self.opts.samples_format))

    def result(self, plan: ImagePlan, interrupted: bool) -> GenerationResult:
        req, facts = self.req, self.facts
        info = {
            "prompt": req.prompt, "all_prompts": list(plan.prompts),
            "negative_prompt": req.negative_prompt, "all_negative_prompts": list(plan.negative_prompts),
            "seed": plan.seeds[0], "all_seeds": list(plan.seeds),
            "subseed": plan.subseeds[0], "all_subseeds": list(plan.subseeds),
            "subseed_strength": req.subseed_strength, "width": req.width, "height": req.height,
            "sampler_name": facts.sampler_label, "cfg_scale": req.cfg_scale, "steps": req.steps,
            "batch_size": req.batch_size, "restore_faces": False, "face_restoration_model": None,
            "sd_model_name": facts.model_name, "sd_model_hash": facts.model_hash,
            "sd_vae_name": facts.vae_name, "sd_vae_hash": facts.vae_hash,
            "seed_resize_from_w": req.seed_resize_from_w, "seed_resize_from_h": req.seed_resize_from_h,
            "denoising_strength": facts.extra.get("Denoising strength"),
            "extra_generation_params": dict(facts.extra),
            "index_of_first_image": 0, "infotexts": list(self.infotexts), "styles": list(req.styles),
            "job_timestamp": self.job_timestamp, "clip_skip": facts.clip_skip,
            "is_using_inpainting_conditioning": "Conditional mask weight" in facts.extra, "version": facts.version,
        }
        return GenerationResult(images=self.images, infotexts=self.infotexts, all_prompts=list(plan.prompts),
                                all_negative_prompts=list(plan.negative_prompts), all_seeds=list(plan.seeds),
                                all_subseeds=list(plan.subseeds), info=info, saved_paths=self.saved,
                                interrupted=interrupted)
