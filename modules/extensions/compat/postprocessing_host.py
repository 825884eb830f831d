"""The Extras tab's postprocessing scripts (A1111's `ScriptPostprocessing`) for the script host: their controls in
the tab (or laid out off-screen for the API), and the core's `ExtrasHooks` that runs them on each upscaled image."""
from __future__ import annotations

from typing import Any

from modules.extensions.compat import binding, scripts
from modules.extensions.compat.scripts_postprocessing import PostprocessedImage, ScriptPostprocessingRunner
from modules.pipeline.extras import NO_EXTRAS_HOOKS, ExtrasOutput


class ExtrasScripts:
    def __init__(self):
        self.runner = ScriptPostprocessingRunner()

    def initialize(self) -> None:
        self.runner.initialize_scripts(scripts.postprocessing_scripts_data)
        scripts.scripts_postproc = self.runner

    def build_ui(self) -> ExtrasSection:
        """Inside the Extras tab's layout: each script's controls (a row per script, A1111's order)."""
        return ExtrasSection(self.runner, self.runner.setup_ui())

    def hooks(self, host=None):
        """The hooks of one Extras job; with `host`, A1111's globals answer for its App while they run."""
        return ExtrasScriptHooks(self.runner, host) if self.runner.scripts else NO_EXTRAS_HOOKS

    def image_changed(self) -> None:
        self.runner.image_changed()


class ExtrasSection:
    """What the Extras tab needs: the inputs to send, and how their values become the request's `script_args`."""

    def __init__(self, runner: ScriptPostprocessingRunner, inputs: list):
        self.runner, self.inputs = runner, inputs

    @property
    def scripts(self) -> list:
        return list(self.runner.scripts or [])

    def script_args(self, values) -> dict[str, dict[str, Any]]:
        values = list(values)
        return {script.name: dict(zip(script.controls or {}, values[script.args_from:script.args_to]))
                for script in self.runner.scripts_in_preferred_order() if script.args_from is not None}


class ExtrasScriptHooks:
    """ExtrasHooks: one upscaled image → A1111's PostprocessedImage through every script → the images to return."""

    def __init__(self, runner: ScriptPostprocessingRunner, host=None):
        self.runner, self.host = runner, host

    def postprocess(self, image, info: dict, request, job) -> list[ExtrasOutput]:
        if self.host is not None:
            with binding.running(self.host):
                return self._postprocess(image, info, request)
        return self._postprocess(image, info, request)

    def _postprocess(self, image, info: dict, request) -> list[ExtrasOutput]:
        pp = PostprocessedImage(image)
        pp.info = dict(info)  # Easel's upscale entries first, as A1111's own Upscale script writes them
        pp.shared.target_width, pp.shared.target_height = image.size
        self.runner.run(pp, self.runner.create_args_for_run(request.script_args or {}))
        if pp.image is None:  # a script dropped the image (and was reported): the upscaled one stands
            pp.image = image
        used: dict = {}
        return [ExtrasOutput(x.image, x.info, x.get_suffix(used), x.caption) for x in [pp, *pp.extra_images]
                if x.image is not None]
