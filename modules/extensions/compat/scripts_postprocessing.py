"""A1111's `modules.scripts_postprocessing`: scripts of the Extras tab (`ScriptPostprocessing`) and the image object
they process. The runner applies the enabled ones, in `order`, to each image Extras produces."""
from __future__ import annotations

import contextlib
import dataclasses
import os

from modules.extensions.compat.reporting import extension_of, guarded


@dataclasses.dataclass
class PostprocessedImageSharedInfo:
    target_width: int | None = None
    target_height: int | None = None


class PostprocessedImage:
    def __init__(self, image):
        self.image = image
        self.info: dict = {}
        self.shared = PostprocessedImageSharedInfo()
        self.extra_images: list = []
        self.nametags: list = []
        self.disable_processing = False
        self.caption = None

    def get_suffix(self, used_suffixes=None) -> str:
        used_suffixes = {} if used_suffixes is None else used_suffixes
        suffix = "-".join(self.nametags)
        if suffix:
            suffix = "-" + suffix
        if suffix not in used_suffixes:
            used_suffixes[suffix] = 1
            return suffix
        for i in range(1, 100):
            proposed = suffix + "-" + str(i)
            if proposed not in used_suffixes:
                used_suffixes[proposed] = 1
                return proposed
        return suffix

    def create_copy(self, new_image, *, nametags=None, disable_processing=False):
        pp = PostprocessedImage(new_image)
        pp.shared = self.shared
        pp.nametags = self.nametags.copy()
        pp.info = self.info.copy()
        pp.disable_processing = disable_processing
        if nametags is not None:
            pp.nametags += nametags
        return pp


class ScriptPostprocessing:
    filename = None
    controls = None
    args_from = None
    args_to = None
    order = 1000
    name = None
    group = None

    def ui(self):
        return {}

    def process(self, pp: PostprocessedImage, **args):
        pass

    def process_firstpass(self, pp: PostprocessedImage, **args):
        pass

    def image_changed(self):
        pass


def enable_if(ui_value, *args):
    return args if ui_value else [None] * len(args)


class ScriptPostprocessingRunner:
    """The Extras tab's scripts (A1111's runner): each script's `ui()` controls own a slice [args_from, args_to) of
    one flat args list; `run(pp, args)` applies every script to one image, each call isolated."""

    def __init__(self):
        self.scripts: list[ScriptPostprocessing] | None = None
        self.ui_created = False

    def initialize_scripts(self, scripts_data) -> None:
        self.scripts = []
        self.ui_created = False
        for data in scripts_data:
            script = guarded(extension_of(data.path), f"{data.script_class.__name__}.__init__", data.script_class)
            if script is not None:
                script.filename = data.path
                if script.name is None:
                    script.name = type(script).__name__
                self.scripts.append(script)

    def scripts_in_preferred_order(self) -> list[ScriptPostprocessing]:
        """By the `postprocessing_operation_order` setting when there is one, then `order`, then name; scripts
        named in `postprocessing_disable_in_extras` left out."""
        if self.scripts is None:
            from modules.extensions.compat import scripts

            self.initialize_scripts(scripts.postprocessing_scripts_data)
        wanted = list(_opt("postprocessing_operation_order", []) or [])
        disabled = set(_opt("postprocessing_disable_in_extras", []) or [])
        chosen = [s for s in self.scripts if s.name not in disabled]

        def score(item):
            index, script = item
            rank = wanted.index(script.name) if script.name in wanted else len(self.scripts)
            return rank, script.order, script.name, index

        return [s for _, s in sorted(enumerate(chosen), key=score)]

    def setup_ui(self) -> list:
        """Inside the caller's Gradio layout: a row per script with its controls; the flat inputs list."""
        import gradio as gr

        inputs: list = []
        for script in self.scripts_in_preferred_order():
            with gr.Row() as group:
                self.create_script_ui(script, inputs)
            script.group = group
        self.ui_created = True
        return inputs

    def create_script_ui(self, script: ScriptPostprocessing, inputs: list) -> None:
        script.args_from = len(inputs)
        controls = guarded(extension_of(script.filename), f"{script.name}.ui", script.ui, default={})
        script.controls = controls if isinstance(controls, dict) else {}
        for control in script.controls.values():
            with contextlib.suppress(Exception):
                control.custom_script_source = os.path.basename(script.filename or "")
        inputs += list(script.controls.values())
        script.args_to = len(inputs)

    def create_args_for_run(self, scripts_args: dict) -> list:
        """{script name: {control name: value}} → the flat args list; controls not given are None (A1111)."""
        if not self.ui_created:
            import gradio as gr

            with gr.Blocks(analytics_enabled=False):
                self.setup_ui()
        ordered = self.scripts_in_preferred_order()
        args: list = [None] * max([s.args_to or 0 for s in ordered], default=0)
        for script in ordered:
            given = (scripts_args or {}).get(script.name)
            if given is not None:
                for i, name in enumerate(script.controls or {}):
                    args[script.args_from + i] = given.get(name)
        return args

    def run(self, pp: PostprocessedImage, args) -> None:
        """`process_firstpass` of every script, then `process` of each on the image and the extra images earlier
        scripts added (those flagged `disable_processing` skipped); `pp.extra_images` holds every extra image."""
        from modules.extensions.compat import shared

        chosen = []
        for script in self.scripts_in_preferred_order():
            values = list(args[script.args_from:script.args_to]) if script.args_from is not None else []
            chosen.append((script, dict(zip((script.controls or {}).keys(), values))))
        for script, kwargs in chosen:
            guarded(extension_of(script.filename), f"{script.name}.process_firstpass", script.process_firstpass, pp,
                    **kwargs)
        all_images = [pp]
        for script, kwargs in chosen:
            if shared.state.skipped:
                break
            shared.state.job = script.name
            for single in all_images.copy():
                if not single.disable_processing:
                    guarded(extension_of(script.filename), f"{script.name}.process", script.process, single,
                            **kwargs)
                for extra in single.extra_images:
                    all_images.append(extra if isinstance(extra, PostprocessedImage) else single.create_copy(extra))
                single.extra_images.clear()
        pp.extra_images = all_images[1:]

    def image_changed(self) -> None:
        for script in self.scripts_in_preferred_order():
            guarded(extension_of(script.filename), f"{script.name}.image_changed", script.image_changed)


def _opt(key: str, default):
    from modules.extensions.compat import binding

    try:
        options = binding.app().options
        return options.get(key) if key in options.table else default
    except Exception:  # noqa: BLE001 - unbound (tests of pure parts)
        return default


def reset() -> None:
    """Before the loader imports scripts again: forget the runner built from the previous ones."""
    from modules.extensions.compat import scripts

    scripts.scripts_postproc = None
