"""A1111's `modules.scripts_postprocessing`: scripts of the Extras tab (`ScriptPostprocessing`) and the image object
they process. The runner applies the enabled ones, in `order`, to each image Extras produces."""
from __future__ import annotations

import dataclasses

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
    """The Extras tab's scripts; `run(pp, args_by_name)` applies each to one image, isolated."""

    def __init__(self):
        self.scripts: list[ScriptPostprocessing] | None = None

    def initialize_scripts(self, scripts_data) -> None:
        self.scripts = []
        for data in scripts_data:
            script = guarded(extension_of(data.path), "__init__", data.script_class)
            if script is not None:
                script.filename = data.path
                self.scripts.append(script)
        self.scripts.sort(key=lambda s: (getattr(s, "order", 1000), s.name or ""))

    def run(self, pp: PostprocessedImage, args_by_name: dict) -> None:
        for script in self.scripts or []:
            args = args_by_name.get(script.name) or {}
            owner = extension_of(script.filename)
            guarded(owner, f"{script.name}.process_firstpass", script.process_firstpass, pp, **args)
        for script in self.scripts or []:
            args = args_by_name.get(script.name) or {}
            guarded(extension_of(script.filename), f"{script.name}.process", script.process, pp, **args)


_runner = {"value": None}


def reset() -> None:
    _runner["value"] = None
