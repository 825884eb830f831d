"""The script host: runs a job's selected script (`run(p, *args)`) and the always-on scripts' hooks around the core
pipeline, through A1111's `p`. The App calls `run_job` (see App._execute); `process_images(p)` comes back here."""
from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from modules.errors import EaselError, InvalidInput
from modules.extensions.compat import binding, processing, run_sync, script_callbacks, scripts
from modules.extensions.compat.nested_job import PassCounter
from modules.extensions.compat.reporting import FAILURES, extension_of
from modules.pipeline.hooks import HookPoint, check_point
from modules.pipeline.result import GenerationResult
from modules.sampling.cfg_hooks import CFGHooks

KINDS = ("txt2img", "img2img")


class ScriptHost:
    """One ScriptRunner per tab; the layout of each runner's args (A1111's flat `script_args`)."""

    def __init__(self, app):
        self.app = app
        self.runners = {kind: scripts.ScriptRunner(kind) for kind in KINDS}
        self.default_args: dict[str, list] = {}
        self._last_model = None
        self.passes = PassCounter()  # a script's several process_images runs add up in its job's progress
        from modules.extensions.compat.postprocessing_host import ExtrasScripts

        self.extras = ExtrasScripts()  # the Extras tab's postprocessing scripts

    def initialize(self) -> None:
        for kind, runner in self.runners.items():
            runner.initialize_scripts(kind == "img2img")
        scripts.scripts_txt2img, scripts.scripts_img2img = self.runners["txt2img"], self.runners["img2img"]
        self.extras.initialize()

    # ---- what the API and UI ask
    def titles(self, kind: str, alwayson: bool | None = None) -> list[str]:
        runner = self.runners[kind]
        chosen = runner.scripts if alwayson is None else runner.alwayson_scripts if alwayson else \
            runner.selectable_scripts
        return [scripts._title(s) for s in chosen]

    def all_titles(self) -> list[str]:
        return sorted({t for kind in KINDS for t in self.titles(kind)}, key=str.lower)

    def find(self, kind: str, title: str):
        return self.runners[kind].find(title)

    def script_info(self) -> list[dict[str, Any]]:
        """GET /sdapi/v1/script-info: every script with its args (labels, defaults, ranges) per tab."""
        from modules.extensions.compat.script_layout import describe_args

        self.ensure_layout()
        rows = []
        for kind, runner in self.runners.items():
            for script in runner.scripts:
                rows.append({"name": scripts._title(script).lower(), "is_alwayson": script.alwayson,
                             "is_img2img": kind == "img2img", "args": describe_args(script)})
        return rows

    def ensure_layout(self) -> None:
        """Give every script its args slice and defaults (built off-screen when no UI built them)."""
        from modules.extensions.compat.script_layout import layout_offscreen

        for kind, runner in self.runners.items():
            if kind not in self.default_args:
                self.default_args[kind] = layout_offscreen(runner)

    # ---- the page
    def build_ui(self, tab: str):
        """Inside the tab's script container: the scripts' panels and the Script dropdown (a ScriptSection)."""
        from modules.extensions.compat.script_layout import build_section

        section = build_section(self.runners[tab], tab)
        self.default_args[tab] = section.defaults()
        return section

    @contextlib.contextmanager
    def building(self, tab: str):
        """While a tab is built, its scripts see every component created (before_component/after_component)."""
        scripts.scripts_current = self.runners.get(tab)
        try:
            yield
        finally:
            scripts.scripts_current = None

    def before_ui(self) -> None:
        script_callbacks.before_ui_callback()

    def page_theme(self):
        """The theme extensions got as `shared.gradio_theme`, if one asked for it: the page is built with it, so the
        CSS variables they set on it reach the page, as in A1111."""
        from modules.extensions.compat import shared

        return shared.used_gradio_theme()

    def extra_tabs(self) -> list:
        """on_ui_tabs: [(blocks, title, elem_id)], each to be rendered as a tab of the page."""
        return [t for t in script_callbacks.ui_tabs_callback() if isinstance(t, (list, tuple)) and len(t) >= 2]

    def extra_network_pages(self) -> list:
        """Pages extensions gave A1111's `ui_extra_networks.register_page`, as tabs of the Extra Networks browser."""
        from modules.extensions.compat import ui_extra_networks

        return ui_extra_networks.page_views()

    def infotext_pasted(self, infotext: str, params: dict) -> None:
        script_callbacks.infotext_pasted_callback(infotext, params)

    def before_token_counter(self, prompt: str, steps: int, styles, is_positive: bool) -> tuple[str, int]:
        """on_before_token_counter: extensions may change the text and steps the counter sees (e.g. wildcards)."""
        params = script_callbacks.BeforeTokenCounterParams(prompt, steps, list(styles or []), is_positive)
        script_callbacks.before_token_counter_callback(params)
        return params.prompt, params.steps

    def unloaded(self) -> None:
        """on_script_unloaded, when the server stops."""
        script_callbacks.script_unloaded_callback()

    def app_started(self, demo, server) -> None:
        from modules.extensions.compat import shared

        shared.demo = demo
        script_callbacks.app_started_callback(demo, server)

    # ---- the Extras tab's postprocessing scripts (compat/postprocessing_host.py)
    def build_extras_ui(self):
        """Inside the Extras tab: the scripts' controls; an ExtrasSection (inputs, their values → script_args)."""
        return self.extras.build_ui()

    def extras_hooks(self):
        """The core's ExtrasHooks for one App.extras call."""
        return self.extras.hooks(self)

    def extras_image_changed(self) -> None:
        self.extras.image_changed()

    # ---- running
    def run_job(self, kind: str, request, snapshot, job) -> GenerationResult:
        """The queue worker's entry: A1111's `scripts.run(p, *args)` or else `process_images(p)`. While it runs,
        A1111's globals (shared.opts, process_images, …) answer for this host's App (binding.running)."""
        with binding.running(self):
            return self._run_job(kind, request, job)

    def _run_job(self, kind: str, request, job) -> GenerationResult:
        runner = self.runners[kind]
        self.ensure_layout()
        p = processing.from_request(kind, request, job)
        p.scripts, p.script_args = runner, self.flat_args(kind, request)
        p.is_api = bool(getattr(request, "is_api", False))
        runner.setup_scrips(p, is_ui=not p.is_api)  # once per job, before the script runs (A1111)
        try:
            processed = None
            if request.script_name:
                script = runner.find(request.script_name)
                if script is None or script not in runner.selectable_scripts:
                    raise InvalidInput("script_name", f"unknown script {request.script_name!r}",
                                       ", ".join(runner.titles) or "none installed")
                processed = run_selected(script, p)
            if processed is None:
                processing.process_images(p)  # through the module: extensions may have wrapped process_images_inner
                return p.easel_result  # the core's own result, with what `postprocess` hooks changed
            return to_result(processed, p, job)
        finally:
            self.passes.forget(job)

    def flat_args(self, kind: str, request) -> list:
        """A1111's init_script_args: defaults, the selected script's args at its slice, always-on args by title.
        Args a request leaves out keep their UI defaults (A1111 would call `run` with too few and fail); extra
        ones are refused, naming the script's arguments."""
        runner = self.runners[kind]
        args = list(self.default_args.get(kind) or [None])
        args[0] = runner.selectable_index(request.script_name)
        if request.script_name:
            script = runner.find(request.script_name)
            if script is not None and script.args_from is not None:
                given = list(request.script_args)
                size = script.args_to - script.args_from
                if len(given) > size:
                    raise InvalidInput("script_args", f"{len(given)} values for {scripts._title(script)}, which "
                                       f"takes {size}", ", ".join(str(getattr(c, "label", None) or "?")
                                                                 for c in script.controls or []))
                args[script.args_from:script.args_from + len(given)] = given
        for title, entry in (request.alwayson_scripts or {}).items():
            script = runner.find(title)
            if script is None or not script.alwayson:
                raise InvalidInput(f"alwayson_scripts.{title}", "unknown always-on script",
                                   ", ".join(self.titles(kind, alwayson=True)) or "none installed")
            given = list((entry or {}).get("args") or []) if isinstance(entry, dict) else []
            for i, value in enumerate(given[:script.args_to - script.args_from]):
                args[script.args_from + i] = value
        return args

    def process_images(self, p) -> processing.Processed:
        from modules.pipeline.job import Job

        request = p.to_request()
        snapshot = self.app.options.snapshot(request.override_settings)
        parent = p.easel_job or self.app.current_job  # a p an extension built itself runs in the current job
        job = self.passes.wrap(parent) if parent is not None else Job()
        overridden = {key: snapshot[key] for key in request.override_settings or {}}
        try:  # hooks even without scripts: they keep p in step with the run (all_prompts, seeds, per-image lists)
            with binding.overriding(overridden):  # shared.opts reads the request's override_settings (A1111)
                result = self.app.run_core(p.kind, request, snapshot, job, CompatHooks(self, p))
        finally:
            if parent is not None:
                self.passes.finished(job)
        p.easel_result = result
        saved = getattr(p, "easel_saved", None)
        p.easel_saved = (saved or []) + list(result.saved_paths)
        p.easel_warnings = getattr(p, "easel_warnings", []) + list(result.warnings)
        return processed_from_result(p, result)

    def model_seen(self, model) -> None:
        """A1111 fires on_model_loaded when a checkpoint is loaded; here when a run first meets a new one."""
        if model is not None and model is not self._last_model:
            self._last_model = model
            from modules.extensions.compat import sd_hijack_unet
            from modules.extensions.compat.sd_model_view import ModelView

            if "modules.sd_hijack_unet" in sys.modules:  # an extension took `th`: the skip joins go through it
                sd_hijack_unet.attach(model.unet)

            script_callbacks.model_loaded_callback(ModelView(model, model.checkpoint))


class ScriptFailed(EaselError):
    """The script the user chose raised: the job fails with the extension named (and the failure is reported)."""

    status_code = 500


def run_selected(script, p):
    """A1111's `script.run(p, *args)` for the selected script; its own failure (not bad input met inside
    process_images) is recorded against its extension and ends the job with a message naming both."""
    try:
        return script.run(p, *p.script_args[script.args_from:script.args_to])
    except EaselError:
        raise
    except Exception as e:  # noqa: BLE001 - extension code
        owner, title = extension_of(script.filename), scripts._title(script)
        FAILURES.record(owner, f"{title}.run", e)
        raise ScriptFailed(f"script {title!r} of extension {owner} failed: {type(e).__name__}: {e}") from None


def processed_from_result(p, result: GenerationResult) -> processing.Processed:
    info = result.info
    p.job_timestamp = info.get("job_timestamp", p.job_timestamp)
    processed = processing.Processed(p, result.shown_images, seed=info.get("seed", p.seed),
                                info=result.infotexts[0] if result.infotexts else "", subseed=info.get("subseed"),
                                all_prompts=list(result.all_prompts), all_negative_prompts=list(
                                    result.all_negative_prompts), all_seeds=list(result.all_seeds),
                                all_subseeds=list(result.all_subseeds), infotexts=result.shown_infotexts,
                                index_of_first_image=info.get("index_of_first_image", 0))
    for key in ("sampler_name", "clip_skip", "version", "sd_model_name", "sd_model_hash", "sd_vae_name",
                "sd_vae_hash", "denoising_strength", "is_using_inpainting_conditioning", "restore_faces",
                "face_restoration_model"):
        if key in info:
            setattr(processed, key, info[key])
    processed.extra_generation_params = {**info.get("extra_generation_params", {}), **p.extra_generation_params}
    return processed


def set_shown(result: GenerationResult, images: list, infotexts: list) -> None:
    """Put what `postprocess` scripts left in Processed.images back: the core's grid stays apart from the images
    while it is still first in the list; a script that dropped or replaced it makes the list the plain images."""
    if result.grid is not None and images and images[0] is result.grid:
        images, infotexts = images[1:], infotexts[1:]
    else:
        result.grid, result.grid_infotext = None, ""
    result.images, result.infotexts = images, infotexts


def to_result(processed: processing.Processed, p, job) -> GenerationResult:
    """A script's Processed as the core's result (what the API and UI show)."""
    images = list(processed.images or [])
    infotexts = list(processed.infotexts or [])
    infotexts += [processed.info] * (len(images) - len(infotexts))
    for image, text in zip(images, infotexts):
        if hasattr(image, "info") and text and "parameters" not in image.info:
            image.info["parameters"] = text
    info = json.loads(processed.js())
    info["infotexts"] = infotexts[:len(images)]
    return GenerationResult(images=images, infotexts=infotexts[:len(images)], all_prompts=list(processed.all_prompts),
                            all_negative_prompts=list(processed.all_negative_prompts),
                            all_seeds=list(processed.all_seeds), all_subseeds=list(processed.all_subseeds),
                            info=info, saved_paths=list(getattr(p, "easel_saved", []) or []),
                            warnings=list(getattr(p, "easel_warnings", []) or []),
                            interrupted=bool(getattr(job, "interrupted", False)))


class CompatHooks:
    """The core's RunHooks for one `process_images(p)`: each hook point → A1111's ScriptRunner call on p."""

    def __init__(self, host: ScriptHost, p):
        self.host, self.p = host, p
        self.runner = p.scripts if p.scripts is not None else scripts.ScriptRunner(p.kind)  # no scripts: none run

    def call(self, point: HookPoint, ctx, **kwargs) -> None:
        handler = getattr(self, f"_{check_point(point)}")
        p = self.p
        run_sync.pull(p, ctx)
        if point == "process":
            self.host.model_seen(ctx.model)
            from modules.extensions.compat.sd_model_view import ModelView

            p.sd_model = ModelView(ctx.model, ctx.model.checkpoint) if ctx.model is not None else None
        handler(p, ctx, **kwargs)
        run_sync.push(p, ctx)

    def _setup(self, p, ctx):
        """Scripts' `setup` ran once for the job (run_job), not once per process_images (A1111's order)."""

    def _before_process(self, p, ctx):
        if p.sd_model is None:  # A1111's p.sd_model is shared.sd_model: the model loaded before this job's own
            from modules.extensions.compat.sd_model_view import model_before_job

            p.sd_model = model_before_job(ctx)
        self.runner.before_process(p)

    def _process(self, p, ctx):
        self.runner.process(p)

    def _batch_kwargs(self, p, ctx) -> dict:
        return {"batch_number": ctx.batch_number, "prompts": p.prompts, "seeds": p.seeds, "subseeds": p.subseeds}

    def _before_process_batch(self, p, ctx):
        self.runner.before_process_batch(p, **self._batch_kwargs(p, ctx))

    def _after_extra_networks_activate(self, p, ctx):
        """As at the end of A1111's `extra_networks.activate`: the batch's prompts without their tags, the tags'
        params in `p.extra_network_data`, the activated LoRAs in `networks.loaded_networks`; what scripts change
        on those is patched in (compat/lora_batch.py)."""
        from modules.extensions.compat import extra_networks, lora_batch

        p.prompts, p.extra_network_data = extra_networks.parse_prompts(p.prompts)
        lora_batch.begin(ctx.model)
        self.runner.after_extra_networks_activate(p, extra_network_data=p.extra_network_data,
                                                  **self._batch_kwargs(p, ctx))
        lora_batch.sync()

    def _process_batch(self, p, ctx):
        from modules.extensions.compat import lora_batch

        self.runner.process_batch(p, **self._batch_kwargs(p, ctx))
        lora_batch.sync()

    def _process_before_every_sampling(self, p, ctx, **kwargs):
        self.runner.process_before_every_sampling(p, **kwargs)

    def _before_hr(self, p, ctx):
        self.runner.before_hr(p)

    def _extra_noise(self, p, ctx, noise, x, xi):
        params = script_callbacks.ExtraNoiseParams(noise.value, x, xi)
        script_callbacks.extra_noise_callback(params)
        noise.value = params.noise

    def _post_sample(self, p, ctx, samples):
        args = scripts.PostSampleArgs(samples.value)
        self.runner.post_sample(p, args)
        samples.value = args.samples

    def _postprocess_batch(self, p, ctx, images):
        self.runner.postprocess_batch(p, images, batch_number=ctx.batch_number)

    def _postprocess_batch_list(self, p, ctx, images):
        args = scripts.PostprocessBatchListArgs(images.value)
        self.runner.postprocess_batch_list(p, args, batch_number=ctx.batch_number)
        images.value = args.images

    def _postprocess_image(self, p, ctx, image, index):
        args = scripts.PostprocessImageArgs(image.value)
        p.batch_index = index
        self.runner.postprocess_image(p, args)
        image.value = args.image

    def _postprocess_maskoverlay(self, p, ctx, index, mask_for_overlay, overlay_image):
        self.runner.postprocess_maskoverlay(p, scripts.PostProcessMaskOverlayArgs(index, mask_for_overlay,
                                                                                   overlay_image))

    def _before_image_saved(self, p, ctx, image, pnginfo):
        params = script_callbacks.ImageSaveParams(image, p, None, pnginfo.value)
        script_callbacks.before_image_saved_callback(params)
        pnginfo.value = params.pnginfo

    def _image_saved(self, p, ctx, image, filename, pnginfo):
        script_callbacks.image_saved_callback(script_callbacks.ImageSaveParams(image, p, str(filename), pnginfo))

    def _postprocess(self, p, ctx):
        from modules.extensions.compat import lora_batch

        lora_batch.end()
        processed = processed_from_result(p, ctx.result)
        self.runner.postprocess(p, processed)
        set_shown(ctx.result, list(processed.images), list(processed.infotexts))

    def cfg_hooks(self, ctx) -> CFGHooks:
        """The cfg callbacks as the core's per-step hooks (only those registered: none costs nothing)."""
        from modules.extensions.compat.cfg_view import cfg_hooks

        return cfg_hooks(self.p)

