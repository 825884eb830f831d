"""The Extras tab / `extra-single-image` / `extra-batch-images`: upscale by or to a size with one or two blended
upscalers, optionally save to outputs/extras-images with A1111's postprocessing infotext.

Then, as A1111's postprocessing orders them, GFPGAN and CodeFormer face restoration (modules/upscalers/faces), each
blended over the upscaled image by its visibility; without the user's model files a visibility above 0 is refused
with a message naming the files and folders, never ignored.

After Easel's own upscaling each image goes through `ExtrasHooks.postprocess` (the extension system's Extras
scripts, A1111's `ScriptPostprocessing`), which may change it, add infotext entries and hand back extra images.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.metadata import read_image_metadata
from modules.pipeline.img2img_request import as_image
from modules.pipeline.job import Job
from modules.imaging.saving import jpeg_copy_setting

SCALE_BY, SCALE_TO = 0, 1
MAX_SCALE = 16.0
MAX_SIDE = 16384


@dataclass(frozen=True)
class ExtrasRequest:
    """A1111's extras fields and defaults. `images` are PIL images, bytes or base64 strings."""

    images: tuple[Any, ...] = ()
    resize_mode: int = SCALE_BY
    upscaling_resize: float = 2.0
    upscaling_resize_w: int = 512
    upscaling_resize_h: int = 512
    upscaling_crop: bool = True
    upscaler_1: str | None = "None"
    upscaler_2: str | None = "None"
    extras_upscaler_2_visibility: float = 0.0
    gfpgan_visibility: float = 0.0
    codeformer_visibility: float = 0.0
    codeformer_weight: float = 0.0
    upscale_first: bool = False
    save_images: bool = False
    # values of the Extras tab's postprocessing scripts: {script name: {control name: value}}; None (the API) gives
    # each control None, as A1111 1.10's extras routes do
    script_args: Any = None

    def __post_init__(self):
        object.__setattr__(self, "images", tuple(self.images))


@dataclass
class ExtrasResult:
    images: list[Image.Image]
    infotexts: list[str]
    saved_paths: list = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # what the job store keeps beside the images
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def html_info(self) -> str:
        """A1111's `html_info`: the first image's postprocessing text as a paragraph."""
        import html

        return f"<p>{html.escape(self.infotexts[0])}</p>" if self.infotexts else ""


@dataclass
class ExtrasOutput:
    """One image Extras returns for an input: the image, its postprocessing infotext entries, the suffix of its
    file name and a caption (saved beside it as .txt when set)."""

    image: Image.Image
    info: dict[str, Any]
    suffix: str = ""
    caption: str | None = None


class ExtrasHooks(Protocol):
    def postprocess(self, image: Image.Image, info: dict[str, Any], request: ExtrasRequest,
                    job: Job) -> list[ExtrasOutput]: ...


class NoExtrasHooks:
    """Extras without extensions: the upscaled image as it is."""

    def postprocess(self, image, info, request, job) -> list[ExtrasOutput]:
        return [ExtrasOutput(image, info)]


NO_EXTRAS_HOOKS = NoExtrasHooks()


def validate_extras(req: ExtrasRequest) -> list[Image.Image]:
    """The images decoded, and every field checked, before any work."""
    if not req.images:
        raise InvalidInput("image", "no image given", "at least one image")
    images = [as_image(v, "image" if len(req.images) == 1 else f"imageList[{i}]") for i, v in enumerate(req.images)]
    if req.resize_mode not in (SCALE_BY, SCALE_TO):
        raise InvalidInput("resize_mode", f"unknown mode {req.resize_mode!r}", "0 (scale by) or 1 (scale to)")
    if req.resize_mode == SCALE_BY and not 0 < float(req.upscaling_resize) <= MAX_SCALE:
        raise InvalidInput("upscaling_resize", f"{req.upscaling_resize} is out of range", f"above 0, up to {MAX_SCALE}")
    if req.resize_mode == SCALE_TO:
        for name in ("upscaling_resize_w", "upscaling_resize_h"):
            if not 1 <= int(getattr(req, name)) <= MAX_SIDE:
                raise InvalidInput(name, f"{getattr(req, name)} is out of range", f"1 to {MAX_SIDE}")
    if not 0 <= req.extras_upscaler_2_visibility <= 1:
        raise InvalidInput("extras_upscaler_2_visibility", f"{req.extras_upscaler_2_visibility} is out of range",
                           "0 to 1")
    for name in ("gfpgan_visibility", "codeformer_visibility", "codeformer_weight"):
        value = getattr(req, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InvalidInput(name, f"{value!r} is out of range", "0 to 1")
    return images


# Extras' face restorers in A1111's order (after the upscaler): (request field, restorer name, infotext key)
FACE_STEPS = (("gfpgan_visibility", "GFPGAN", "GFPGAN visibility"),
              ("codeformer_visibility", "CodeFormer", "CodeFormer visibility"))


def check_face_models(upscalers, req: ExtrasRequest) -> None:
    """Refuse, before any work, a visibility whose restorer has no model files (the message says which)."""
    for field_name, model, _ in FACE_STEPS:
        if getattr(req, field_name) > 0:
            faces = getattr(upscalers, "faces", None)
            if faces is None:
                raise InvalidInput(field_name, "face restoration is not available in this set-up", "0")
            faces.require(model, field_name)


def restore_faces_step(upscalers, image: Image.Image, req: ExtrasRequest, info: dict[str, Any]) -> Image.Image:
    """GFPGAN then CodeFormer over `image`, each blended in by its visibility (A1111's Image.blend)."""
    for field_name, model, key in FACE_STEPS:
        visibility = float(getattr(req, field_name))
        if visibility <= 0:
            continue
        restored = upscalers.faces.restore(image, model, float(req.codeformer_weight), field_name).image
        image = restored if visibility >= 1 else Image.blend(image.convert("RGB"), restored, visibility)
        info[key] = round(visibility, 3)
        if model == "CodeFormer":
            info["CodeFormer weight"] = round(float(req.codeformer_weight), 3)
    return image


def _scale_for(req: ExtrasRequest, image: Image.Image) -> tuple[float, dict[str, Any]]:
    if req.resize_mode == SCALE_BY:
        return float(req.upscaling_resize), {"Postprocess upscale by": req.upscaling_resize}
    w, h = int(req.upscaling_resize_w), int(req.upscaling_resize_h)
    scale = max(w / image.width, h / image.height)
    key = "Postprocess crop to" if req.upscaling_crop else "Postprocess upscale to"
    return scale, {key: f"{w}x{h}"}


def upscale_one(upscalers, image: Image.Image, req: ExtrasRequest, tile: int, overlap: int,
                progress=None) -> tuple[Image.Image, dict[str, Any]]:
    """One image through upscaler 1 (and 2, blended), then cropped to the target in scale-to mode."""
    scale, info = _scale_for(req, image)
    first = upscalers.find(req.upscaler_1, "upscaler_1")
    result = upscalers.upscale(image, first.name, scale, tile, overlap, progress, "upscaler_1")
    info["Postprocess upscaler"] = first.name
    second = upscalers.find(req.upscaler_2, "upscaler_2")
    if second.kind != "none" and req.extras_upscaler_2_visibility > 0:
        other = upscalers.upscale(image, second.name, scale, tile, overlap, progress, "upscaler_2")
        if other.size != result.size:
            other = other.resize(result.size, resample=Image.Resampling.LANCZOS)
        result = Image.blend(result.convert("RGB"), other.convert("RGB"), req.extras_upscaler_2_visibility)
        info["Postprocess upscaler 2"] = second.name
        info["Postprocess upscaler 2 visibility"] = req.extras_upscaler_2_visibility
    if req.resize_mode == SCALE_TO and req.upscaling_crop:
        w, h = int(req.upscaling_resize_w), int(req.upscaling_resize_h)
        canvas = Image.new("RGB", (w, h))
        canvas.paste(result, box=(w // 2 - result.width // 2, h // 2 - result.height // 2))
        result = canvas
    return result, info


def postprocess_infotext(info: dict[str, Any]) -> str:
    """`Key: value` pairs joined by `, ` (values with `,` or `:` quoted, as in any infotext)."""
    import json

    def quote(v):
        text = str(v)
        return json.dumps(text, ensure_ascii=False) if any(c in text for c in ",:\n") else text

    return ", ".join(k if k == v else f"{k}: {quote(v)}" for k, v in info.items() if v is not None)


def run_extras(upscalers, saver, folder, opts, req: ExtrasRequest, job: Job | None = None,
               hooks: ExtrasHooks = NO_EXTRAS_HOOKS) -> ExtrasResult:
    """Upscale every image of the request, then the hooks' postprocessing; save each output (keeping the input's
    generation infotext) when asked."""
    images = validate_extras(req)
    check_face_models(upscalers, req)
    job = job or Job(job_count=len(images))
    result = ExtrasResult([], [])
    for i, image in enumerate(images):
        if job.interrupted:
            break
        job.begin_pass(i, 1, f"Extras {i + 1} out of {len(images)}")
        progress = _progress(job)
        rgb = image.convert("RGB")  # as A1111's postprocessing: alpha is dropped
        upscaled, info = upscale_one(upscalers, rgb, req, opts.ESRGAN_tile, opts.ESRGAN_tile_overlap, progress)
        upscaled = restore_faces_step(upscalers, upscaled, req, info)
        parameters, _ = read_image_metadata(image)
        for output in hooks.postprocess(upscaled, info, req, job):
            _emit(result, output, parameters, saver, folder, opts, req.save_images)
    if (req.gfpgan_visibility or req.codeformer_visibility) and opts.face_restoration_unload:
        upscalers.faces.unload()
    result.interrupted = job.interrupted
    return result


def run_extras_job(services, req: ExtrasRequest, opts, job: Job,
                   hooks: ExtrasHooks = NO_EXTRAS_HOOKS) -> ExtrasResult:
    """Extras as a job of the queue (the job-kind table's signature): the folder comes from the settings."""
    folder = services.paths.data_dir / opts.outdir_extras_samples
    return run_extras(services.upscalers, services.saver, folder, opts, req, job, hooks)


def _emit(result: ExtrasResult, output: ExtrasOutput, parameters: str | None, saver, folder, opts,
          save: bool) -> None:
    text = postprocess_infotext(output.info)
    chunks = {"postprocessing": text, "extras": text}  # A1111 1.10 writes both
    image = output.image
    image.info = {"parameters": parameters} if parameters else {}
    image.info.update(chunks.items())  # "parameters" first, then the postprocessing chunks
    result.images.append(image)
    result.infotexts.append(text)
    if not save:
        return
    path = saver.save_image(image, folder, seed=None, infotext=parameters, fmt=opts.samples_format,
                            prefix_date=False, decoration=output.suffix.lstrip("-"), extra_text=chunks,
                            jpeg_copy=jpeg_copy_setting(opts))
    result.saved_paths.append(path)
    if output.caption:
        Path(path).with_suffix(".txt").write_text(str(output.caption), encoding="utf-8")


def _progress(job: Job):
    def on_tile(done: int, total: int) -> None:
        if job.sampling_steps != total:
            job.begin_pass(job.job_no, total, job.textinfo)
        job.on_step(done)
    return on_tile


def extras_from_folder(run, req: ExtrasRequest, input_dir: str, output_dir: str = "",
                       fmt: str = "png") -> ExtrasResult:
    """Extras' "Batch from Directory": every image of `input_dir` through `run` (e.g. `app.extras`); with an
    `output_dir`, results are written there under their input's name (else saved as the request says)."""
    from modules.pipeline.img2img_batch import IMAGE_SUFFIXES, list_images, save_named

    paths = list_images(input_dir, "input_dir")
    if not paths:
        raise InvalidInput("input_dir", f"no images in {input_dir}", ", ".join(IMAGE_SUFFIXES))
    images = [as_image(p.read_bytes(), f"input_dir/{p.name}") for p in paths]
    result = run(dataclasses.replace(req, images=tuple(images), save_images=req.save_images and not output_dir))
    if output_dir:
        for path, image, text in zip(paths, result.images, result.infotexts):
            parameters = image.info.get("parameters")
            result.saved_paths.append(save_named(image, Path(output_dir), path.stem, parameters, fmt,
                                                 extra_text={"postprocessing": text, "extras": text}))
    return result
