"""A1111's `modules.scripts`: the `Script` base class, per-tab `ScriptRunner`s, and the hook argument objects.

Scripts are imported by modules/extensions/compat/loader.py; each tab gets its own instances. Every call into a
script is isolated (reporting.guarded): a failing script is reported once with its extension's name.
"""
from __future__ import annotations

import os
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

from modules.extensions.compat.reporting import extension_of, guarded

AlwaysVisible = object()


class MaskBlendArgs:
    def __init__(self, current_latent, nmask, init_latent, mask, blended_latent, denoiser=None, sigma=None):
        self.current_latent, self.nmask, self.init_latent, self.mask = current_latent, nmask, init_latent, mask
        self.blended_latent, self.denoiser, self.sigma = blended_latent, denoiser, sigma
        self.is_final_blend = denoiser is None


class PostSampleArgs:
    def __init__(self, samples):
        self.samples = samples


class PostprocessImageArgs:
    def __init__(self, image):
        self.image = image


class PostProcessMaskOverlayArgs:
    def __init__(self, index, mask_for_overlay, overlay_image):
        self.index, self.mask_for_overlay, self.overlay_image = index, mask_for_overlay, overlay_image


class PostprocessBatchListArgs:
    def __init__(self, images):
        self.images = images


@dataclass
class OnComponent:
    component: Any


class Script:
    """Base class of every A1111 script; override what you need."""

    name = None
    section = None
    filename = None
    args_from = None
    args_to = None
    alwayson = False
    is_txt2img = False
    is_img2img = False
    tabname = None
    group = None
    create_group = True
    setup_for_ui_only = False
    controls = None
    infotext_fields = None
    paste_field_names = None
    api_info = None
    sorting_priority = 0
    on_before_component_elem_id = None
    on_after_component_elem_id = None

    def title(self):
        raise NotImplementedError()

    def ui(self, is_img2img):
        pass

    def show(self, is_img2img):
        return True

    def run(self, p, *args):
        pass

    def setup(self, p, *args):
        pass

    def before_process(self, p, *args):
        pass

    def process(self, p, *args):
        pass

    def before_process_batch(self, p, *args, **kwargs):
        pass

    def after_extra_networks_activate(self, p, *args, **kwargs):
        pass

    def process_before_every_sampling(self, p, *args, **kwargs):
        pass

    def process_batch(self, p, *args, **kwargs):
        pass

    def postprocess_batch(self, p, *args, **kwargs):
        pass

    def postprocess_batch_list(self, p, pp: PostprocessBatchListArgs, *args, **kwargs):
        pass

    def on_mask_blend(self, p, mba: MaskBlendArgs, *args):
        pass

    def post_sample(self, p, ps: PostSampleArgs, *args):
        pass

    def postprocess_image(self, p, pp: PostprocessImageArgs, *args):
        pass

    def postprocess_maskoverlay(self, p, ppmo: PostProcessMaskOverlayArgs, *args):
        pass

    def postprocess_image_after_composite(self, p, pp: PostprocessImageArgs, *args):
        pass

    def postprocess(self, p, processed, *args):
        pass

    def before_hr(self, p, *args):
        pass

    def before_component(self, component, **kwargs):
        pass

    def after_component(self, component, **kwargs):
        pass

    def on_before_component(self, callback, *, elem_id):
        if self.on_before_component_elem_id is None:
            self.on_before_component_elem_id = []
        self.on_before_component_elem_id.append((elem_id, callback))

    def on_after_component(self, callback, *, elem_id):
        if self.on_after_component_elem_id is None:
            self.on_after_component_elem_id = []
        self.on_after_component_elem_id.append((elem_id, callback))

    def describe(self):
        return ""

    def elem_id(self, item_id):
        """A1111's helper: a unique element id from the script's title and the tab."""
        need_tabname = self.show(True) == self.show(False)
        tabkind = "img2img" if self.is_img2img else "txt2img"
        tabname = f"{tabkind}_" if need_tabname else ""
        title = "".join(c if c.isalnum() or c == "_" else "" for c in self.title().lower().replace(" ", "_"))
        return f"script_{tabname}{title}_{item_id}"


ScriptFile = namedtuple("ScriptFile", ["basedir", "filename", "path"])
ScriptClassData = namedtuple("ScriptClassData", ["script_class", "path", "basedir", "module"])

scripts_data: list[ScriptClassData] = []
postprocessing_scripts_data: list[ScriptClassData] = []
_current = {"basedir": os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
            "file": None}


def basedir() -> str:
    """The folder of the extension whose scripts are being imported now (A1111 `scripts.basedir()`)."""
    return _current["basedir"]


def current_script_file() -> str | None:
    return _current["file"]


def set_current(base: str, file: str | None) -> None:
    _current["basedir"], _current["file"] = base, file


# modules A1111's scripts.py imports, which extensions reach through it (`scripts.script_callbacks.on_…`)
_IMPORTED = ("shared", "paths", "script_callbacks", "extensions", "script_loading", "scripts_postprocessing",
             "errors", "timer", "util")


def __getattr__(name: str):
    if name == "current_basedir":
        return _current["basedir"]
    if name in _IMPORTED:
        import importlib

        return importlib.import_module(f"modules.{name}")
    raise AttributeError(f"module 'modules.scripts' has no attribute {name!r}")


class ScriptRunner:
    """The scripts of one tab: selectable ones (the Script dropdown) and always-visible ones (every hook)."""

    def __init__(self, tabname: str = "txt2img"):
        self.tabname = tabname
        self.scripts: list[Script] = []
        self.selectable_scripts: list[Script] = []
        self.alwayson_scripts: list[Script] = []
        self.titles: list[str] = []
        self.title_map: dict[str, Script] = {}
        self.infotext_fields: list = []
        self.paste_field_names: list = []
        self.inputs: list = [None]
        self.is_img2img = tabname == "img2img"

    def initialize_scripts(self, is_img2img: bool) -> None:
        self.is_img2img = is_img2img
        self.scripts, self.selectable_scripts, self.alwayson_scripts = [], [], []
        for data in scripts_data:  # in load order
            owner = extension_of(data.path)
            script = guarded(owner, f"{data.script_class.__name__}.__init__", data.script_class)
            if script is None:
                continue
            script.filename, script.is_img2img, script.is_txt2img = data.path, is_img2img, not is_img2img
            script.tabname = "img2img" if is_img2img else "txt2img"
            visibility = guarded(owner, f"{_title(script)}.show", script.show, is_img2img, default=False)
            if visibility is AlwaysVisible:
                script.alwayson = True
                self.scripts.append(script)
                self.alwayson_scripts.append(script)
            elif visibility:
                self.scripts.append(script)
                self.selectable_scripts.append(script)
        self.alwayson_scripts.sort(key=lambda s: getattr(s, "sorting_priority", 0))
        self.title_map = {_title(s).lower(): s for s in self.scripts}
        self.titles = [_title(s) for s in self.selectable_scripts]

    def find(self, title: str) -> Script | None:
        return self.title_map.get((title or "").lower())

    def selectable_index(self, title: str | None) -> int:
        """1-based index in the dropdown (0: None), as A1111's `script_args[0]`."""
        script = self.find(title) if title else None
        return self.selectable_scripts.index(script) + 1 if script in self.selectable_scripts else 0

    # hooks: each always-on script with its own slice of p.script_args, isolated
    def _each(self, hook: str, p, *lead, **kwargs) -> None:
        for script in self.alwayson_scripts:
            args = script_args_of(p, script)
            guarded(extension_of(script.filename), f"{_title(script)}.{hook}", getattr(script, hook), p, *lead,
                    *args, **kwargs)

    def setup_scrips(self, p, *, is_ui: bool = True) -> None:
        for script in self.alwayson_scripts:
            if not is_ui and script.setup_for_ui_only:
                continue
            guarded(extension_of(script.filename), f"{_title(script)}.setup", script.setup, p,
                    *script_args_of(p, script))

    def before_process(self, p):
        self._each("before_process", p)

    def process(self, p):
        self._each("process", p)

    def before_process_batch(self, p, **kwargs):
        self._each("before_process_batch", p, **kwargs)

    def after_extra_networks_activate(self, p, **kwargs):
        self._each("after_extra_networks_activate", p, **kwargs)

    def process_batch(self, p, **kwargs):
        self._each("process_batch", p, **kwargs)

    def process_before_every_sampling(self, p, **kwargs):
        self._each("process_before_every_sampling", p, **kwargs)

    def before_hr(self, p):
        self._each("before_hr", p)

    def post_sample(self, p, ps: PostSampleArgs):
        self._each("post_sample", p, ps)

    def postprocess_batch(self, p, images, **kwargs):
        self._each("postprocess_batch", p, images=images, **kwargs)

    def postprocess_batch_list(self, p, pp: PostprocessBatchListArgs, **kwargs):
        self._each("postprocess_batch_list", p, pp, **kwargs)

    def postprocess_image(self, p, pp: PostprocessImageArgs):
        self._each("postprocess_image", p, pp)

    def postprocess_maskoverlay(self, p, ppmo: PostProcessMaskOverlayArgs):
        self._each("postprocess_maskoverlay", p, ppmo)

    def postprocess(self, p, processed):
        self._each("postprocess", p, processed)

    def before_component(self, component, **kwargs):
        self._component_hooks("before", component, kwargs)

    def after_component(self, component, **kwargs):
        self._component_hooks("after", component, kwargs)

    def _component_hooks(self, when: str, component, kwargs: dict) -> None:
        """Each script's `<when>_component(component, **kwargs)`, then its callbacks for this elem_id."""
        for script in self.scripts:
            owner, title = extension_of(script.filename), _title(script)
            guarded(owner, f"{title}.{when}_component", getattr(script, f"{when}_component"), component, **kwargs)
            for elem_id, callback in getattr(script, f"on_{when}_component_elem_id") or []:
                if elem_id == kwargs.get("elem_id"):
                    guarded(owner, f"{title}.on_{when}_component", callback, OnComponent(component))

    def run(self, p, *args):
        """A1111's selectable-script run: args[0] is the dropdown index; None when no script is selected."""
        index = args[0] if args else 0
        if not index:
            return None
        script = self.selectable_scripts[index - 1]
        return script.run(p, *args[script.args_from:script.args_to])


def _title(script: Script) -> str:
    try:
        return str(script.title())
    except Exception:  # noqa: BLE001 - a script without a usable title is named by its file
        return os.path.basename(script.filename or "script")


def script_args_of(p, script: Script) -> list:
    args = getattr(p, "script_args", None) or []
    if script.args_from is None or script.args_to is None:
        return []
    return list(args[script.args_from:script.args_to])


scripts_txt2img: ScriptRunner | None = None
scripts_img2img: ScriptRunner | None = None
scripts_postproc = None
scripts_current: ScriptRunner | None = None


def list_scripts(scriptdirname: str, extension: str, *, include_extensions: bool = True) -> list[ScriptFile]:
    """Script files of every loaded extension (A1111 helper some extensions call)."""
    return [ScriptFile(d.basedir, os.path.basename(d.path), d.path) for d in scripts_data
            if d.path.endswith(extension)]
