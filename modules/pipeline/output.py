"""Collects a run's images: PIL conversion, infotext per image, saving, and A1111's `info` fields."""
from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.convert import tensor_to_pil
from modules.imaging.grids import grid_rows, grid_shape, paste_grid
from modules.imaging.infotext import format_infotext
from modules.imaging.save_naming import SavingSettings
from modules.imaging.saving import jpeg_copy_setting
from modules.imaging.watermark import MESSAGE as WATERMARK
from modules.options import Snapshot
from modules.pipeline.extra_outputs import Finished, MaskOutputs
from modules.pipeline.hooks import NO_HOOKS, Holder, RunContext, RunHooks
from modules.pipeline.params import RunFacts, infotext_params
from modules.pipeline.request import GenerationRequest
from modules.pipeline.result import GenerationResult
from modules.pipeline.seeds import ImagePlan


class ImageOutputs:
    """Owned by one run: appends each decoded batch, saves it when asked, and builds the result."""

    def __init__(self, services, req: GenerationRequest, opts: Snapshot, facts: RunFacts, kind: str,
                 hooks: RunHooks = NO_HOOKS, ctx: RunContext | None = None):
        self.services, self.req, self.opts, self.facts, self.kind = services, req, opts, facts, kind
        self.hooks, self.ctx = hooks, ctx
        self.images: list[Image.Image] = []
        self.infotexts: list[str] = []  # one per image; "" for a mask or mask composite (they carry none)
        self.extras = MaskOutputs.from_options(opts)
        self.saved: list[Path] = []
        self.faces: FaceRestoration | None = None  # set by the run when it restores faces (for `info`)
        self.jpeg_copy = jpeg_copy_setting(opts)
        self.saving = SavingSettings.from_options(opts)  # folders and names (modules/imaging/save_naming.py)
        self.replace = opts.save_images_replace_action == "Replace"
        self.job_timestamp = time.strftime("%Y%m%d%H%M%S")

    def infotext(self, prompt: str, negative: str, seed: int, subseed: int) -> str:
        facts = self.facts
        if self.ctx is not None and self.ctx.extra:  # entries hooks added (A1111's extra_generation_params)
            facts = dataclasses.replace(facts, extra={**facts.extra, **self.ctx.extra})
        return format_infotext(prompt, negative, infotext_params(self.req, facts, seed, subseed))

    def folder(self, what: str = "samples") -> Path:
        """The run's output folder for "samples" or "grids", in the data dir: outdir_samples / outdir_grids when
        set (one folder for every kind, as in A1111), else outdir_<kind>_<what>."""
        shared = self.opts.get(f"outdir_{what}") if self.kind != "extras" else None
        return self.services.paths.data_dir / (shared or self.opts[f"outdir_{self.kind}_{what}"])

    def name_values(self, image, prompt: str, negative: str, seed: int, index: int) -> dict[str, Any]:
        """What a file name pattern can read for one image (A1111's FilenameGenerator tags)."""
        req, facts = self.req, self.facts
        return {"seed": seed, "prompt": prompt, "prompt_no_styles": req.prompt, "steps": req.steps,
                "cfg": req.cfg_scale, "width": image.width, "height": image.height,
                "styles": ", ".join(req.styles) or "None", "sampler": req.sampler_name,
                "scheduler": req.scheduler, "model_name": facts.model_name, "model_hash": facts.model_hash,
                "job_timestamp": self.job_timestamp, "batch_number": index + 1, "batch_size": req.batch_size,
                "clip_skip": facts.clip_skip, "denoising": facts.extra.get("Denoising strength", "None"),
                "user": req.user or "None", "vae_filename": facts.vae_name or "None", "none": "",
                "prompt_hash": _short_hash(prompt), "negative_prompt_hash": _short_hash(negative),
                "full_prompt_hash": _short_hash(prompt + negative), "max_prompt_words": self.saving.max_prompt_words}

    def add(self, decoded: torch.Tensor, batch: ImagePlan) -> None:
        """`decoded` [B, 3, H, W] in [0, 1], in the batch's seed order."""
        self.add_images(tensor_to_pil(decoded), batch)

    def add_images(self, images: list, batch: ImagePlan) -> None:
        """Finished images (PIL, [3, H, W] tensors in [0, 1], or `Finished` with their extra pictures) in the
        batch's seed order; per image the hooks `postprocess_image`, `postprocess_maskoverlay`,
        `before_image_saved` and `image_saved` run. An inpainting mask and composite follow their image (A1111)."""
        for index, (item, prompt, negative, seed, subseed) in enumerate(zip(
                images, batch.prompts, batch.negative_prompts, batch.seeds, batch.subseeds)):
            done = item if isinstance(item, Finished) else Finished(as_pil(item))
            image = self._postprocessed(done.image, index)
            text = self.infotext(prompt, negative, seed, subseed)
            names = self.name_values(image, prompt, negative, seed, index)
            if self.req.save_images:
                for suffix, picture in done.before:
                    self._save_copy(picture, text, suffix, names)
            image.info["parameters"] = text
            self.images.append(image)
            self.infotexts.append(text)
            if self.req.save_images:
                self._save(image, text, names)
            self._add_extras(done, text, names)

    def save_copies(self, images: list, batch: ImagePlan, suffix: str) -> None:
        """Pictures of the batch saved (when the run saves) beside its images with their infotexts, e.g. before
        the hires pass (A1111's save_images_before_highres_fix)."""
        if not self.req.save_images:
            return
        for index, (image, prompt, negative, seed, subseed) in enumerate(zip(
                images, batch.prompts, batch.negative_prompts, batch.seeds, batch.subseeds)):
            picture = as_pil(image)
            self._save_copy(picture, self.infotext(prompt, negative, seed, subseed), suffix,
                            self.name_values(picture, prompt, negative, seed, index))

    def _add_extras(self, done: Finished, text: str, names: dict[str, Any]) -> None:
        for suffix, picture, save, show in self.extras.pictures(done):
            if save and self.req.save_images:
                self._save_copy(picture, text, suffix, names)
            if show:
                self.images.append(picture)
                self.infotexts.append("")

    def _save_copy(self, image, text: str, suffix: str, names: dict[str, Any]) -> None:
        """A side picture (`-mask`, `-before-face-restoration`, …) with the image's infotext and file name values
        (`name_values`); no hooks, no mark."""
        self.services.saver.save_output(image, self.folder(), text, self.opts.samples_format, self.saving, names,
                                        suffix=suffix, replace=self.replace, jpeg_copy=self.jpeg_copy)

    def _postprocessed(self, image, index: int):
        if self.ctx is None:
            return image
        holder = Holder(image)
        self.hooks.call("postprocess_image", self.ctx, image=holder, index=index)
        self.hooks.call("postprocess_maskoverlay", self.ctx, index=index, mask_for_overlay=None, overlay_image=None)
        return holder.value

    def _save(self, image, text: str, names: dict[str, Any]) -> None:
        info = Holder({"parameters": text})
        if self.ctx is not None:
            self.hooks.call("before_image_saved", self.ctx, image=image, pnginfo=info)
        mark = WATERMARK if self.opts.enable_invisible_watermark else None  # off by default (docs/pipeline.md)
        path = self.services.saver.save_output(image, self.folder(), info.value.get("parameters", text),
                                               self.opts.samples_format, self.saving, names, replace=self.replace,
                                               watermark=mark, jpeg_copy=self.jpeg_copy)
        self.saved.append(path)
        if self.ctx is not None:
            self.hooks.call("image_saved", self.ctx, image=image, filename=path, pnginfo=info.value)

    def result(self, plan: ImagePlan, interrupted: bool) -> GenerationResult:
        req, facts = self.req, self.facts
        grid, grid_text, grid_path = self._grid(plan) if self.images else (None, "", None)
        shown_infotexts = [grid_text, *self.infotexts] if grid is not None else list(self.infotexts)
        shown_infotexts = [text for text in shown_infotexts if text]  # A1111 lists none for masks and composites
        info = {
            "prompt": req.prompt, "all_prompts": list(plan.prompts),
            "negative_prompt": req.negative_prompt, "all_negative_prompts": list(plan.negative_prompts),
            "seed": plan.seeds[0], "all_seeds": list(plan.seeds),
            "subseed": plan.subseeds[0], "all_subseeds": list(plan.subseeds),
            "subseed_strength": req.subseed_strength, "width": req.width, "height": req.height,
            "sampler_name": facts.sampler_label, "cfg_scale": req.cfg_scale, "steps": req.steps,
            "batch_size": req.batch_size, "restore_faces": self.faces is not None,
            "face_restoration_model": self.faces.model if self.faces is not None else None,
            "sd_model_name": facts.model_name, "sd_model_hash": facts.model_hash,
            "sd_vae_name": facts.vae_name, "sd_vae_hash": facts.vae_hash,
            "seed_resize_from_w": req.seed_resize_from_w, "seed_resize_from_h": req.seed_resize_from_h,
            "denoising_strength": facts.extra.get("Denoising strength"),
            "extra_generation_params": dict(facts.extra),
            "index_of_first_image": int(grid is not None), "infotexts": shown_infotexts, "styles": list(req.styles),
            "job_timestamp": self.job_timestamp, "clip_skip": facts.clip_skip,
            "is_using_inpainting_conditioning": "Conditional mask weight" in facts.extra, "version": facts.version,
        }
        return GenerationResult(images=self.images, infotexts=self.infotexts, all_prompts=list(plan.prompts),
                                all_negative_prompts=list(plan.negative_prompts), all_seeds=list(plan.seeds),
                                all_subseeds=list(plan.subseeds), info=info, saved_paths=self.saved,
                                interrupted=interrupted, grid=grid, grid_infotext=grid_text,
                                grid_path=grid_path)

    def _grid(self, plan: ImagePlan) -> tuple[Any, str, Path | None]:
        """A1111's batch grid, its infotext and file: saved to the grids folder (`grid_save`) and returned to be shown
        first (`return_grid`) when the run made several images (or one, with `grid_only_if_multiple` off) and the
        request does not say `do_not_save_grid` (the API sets it unless `save_images`)."""
        opts, req = self.opts, self.req
        single = len(self.images) < 2 and opts.grid_only_if_multiple
        if req.do_not_save_grid or single or not (opts.return_grid or opts.grid_save):
            return None, "", None
        grid = batch_grid(self.images, req.batch_size, opts)
        text = self.infotext(plan.prompts[0], plan.negative_prompts[0], plan.seeds[0], plan.subseeds[0])
        if opts.enable_pnginfo:
            grid.info["parameters"] = text
        path = None
        if opts.grid_save:
            values = self.name_values(grid, plan.prompts[0], plan.negative_prompts[0], plan.seeds[0], 0)
            path = self.services.saver.save_output(grid, self.folder("grids"), text if opts.enable_pnginfo else None,
                                                   opts.grid_format, self.saving, values, grid=True,
                                                   replace=self.replace, jpeg_copy=self.jpeg_copy)
        return (grid, text, path) if opts.return_grid else (None, "", None)


def _short_hash(text: str) -> str:
    """A1111's `[prompt_hash]`: the first 8 hex digits of the text's SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def batch_grid(images: list, batch_size: int, opts: Snapshot):
    """The images of a run on one grid, rows as the `n_rows` and `grid_prevent_empty_spots` settings ask."""
    rows = grid_rows(len(images), batch_size, int(opts.n_rows), bool(opts.grid_prevent_empty_spots))
    cols, rows = grid_shape(len(images), rows)
    return paste_grid(images, cols, rows)


def as_pil(image):
    """A PIL image, or a [3, H, W] tensor in [0, 1] (what batch hooks hand back) as one."""
    return tensor_to_pil(image.unsqueeze(0))[0] if isinstance(image, torch.Tensor) else image


@dataclass(frozen=True)
class FaceRestoration:
    """A run's restore-faces step (A1111: right after decoding, before the scripts' postprocess_image and the
    inpainting overlay): every image through the chosen restorer of `restorers` (a FaceRestorers)."""

    restorers: Any
    model: str
    weight: float
    unload: bool = False
    save_before: bool = False  # save_images_before_face_restoration: the unrestored picture is saved too

    def add_to(self, facts: RunFacts) -> RunFacts:
        return dataclasses.replace(facts, extra={**facts.extra, "Face restoration": self.model})

    def __call__(self, images) -> list:
        """PIL images or [3, H, W] tensors (a decoded batch) → restored PIL images."""
        try:
            return [self.restorers.restore(as_pil(image), self.model, self.weight).image for image in images]
        finally:
            if self.unload:
                self.restorers.unload()


def face_restoration(services, req: GenerationRequest, opts: Snapshot) -> FaceRestoration | None:
    """The step when the request (or, with `restore_faces` None, the "face_restoration" setting) asks for it;
    a missing model is refused here, before any sampling."""
    wanted = opts.face_restoration if req.restore_faces is None else req.restore_faces
    if not wanted:
        return None
    field = "restore_faces" if req.restore_faces is not None else "face_restoration"
    upscalers = getattr(services, "upscalers", None)
    if upscalers is None:
        raise InvalidInput(field, "face restoration is not available in this set-up (no model service)")
    kind = upscalers.faces.require(opts.face_restoration_model, field)
    return FaceRestoration(upscalers.faces, kind.name, float(opts.code_former_weight),
                           bool(opts.face_restoration_unload), bool(opts.save_images_before_face_restoration))


def restored(faces: FaceRestoration | None, images):
    """`images` through the face step, or as they are when there is none."""
    return images if faces is None else faces(images)


def restored_with_copies(faces: FaceRestoration | None, images) -> list[Finished]:
    """`restored`, each image with its unrestored picture as a `-before-face-restoration` copy to save when the
    step says so (A1111 saves it right before restoring)."""
    pictures = [as_pil(image) for image in images]
    if faces is None:
        return [Finished(picture) for picture in pictures]
    return [Finished(done, before=((BEFORE_FACES_SUFFIX, picture),) if faces.save_before else ())
            for done, picture in zip(faces(pictures), pictures)]


BEFORE_FACES_SUFFIX = "-before-face-restoration"
