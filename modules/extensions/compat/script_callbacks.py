"""A1111's `modules.script_callbacks`: `on_*` registration and the parameter objects callbacks receive.

Every callback runs isolated: a failing one is reported once with its extension's name and the others still run.
"""
from __future__ import annotations

import dataclasses
from collections import namedtuple

from modules.extensions.compat.reporting import extension_of, guarded

ScriptCallback = namedtuple("ScriptCallback", ["script", "callback", "name"])

NAMES = ("app_started", "model_loaded", "ui_tabs", "ui_train_tabs", "ui_settings", "before_image_saved",
         "image_saved", "extra_noise", "cfg_denoiser", "cfg_denoised", "cfg_after_cfg", "before_component",
         "after_component", "image_grid", "infotext_pasted", "script_unloaded", "before_ui", "on_reload",
         "list_optimizers", "list_unets", "before_token_counter")
callback_map: dict[str, list[ScriptCallback]] = {f"callbacks_{n}": [] for n in NAMES}


class ImageSaveParams:
    def __init__(self, image, p, filename, pnginfo):
        self.image, self.p, self.filename, self.pnginfo = image, p, filename, pnginfo


class ExtraNoiseParams:
    def __init__(self, noise, x, xi):
        self.noise, self.x, self.xi = noise, x, xi


class CFGDenoiserParams:
    def __init__(self, x, image_cond, sigma, sampling_step, total_sampling_steps, text_cond, text_uncond,
                 denoiser=None):
        self.x, self.image_cond, self.sigma = x, image_cond, sigma
        self.sampling_step, self.total_sampling_steps = sampling_step, total_sampling_steps
        self.text_cond, self.text_uncond, self.denoiser = text_cond, text_uncond, denoiser


class CFGDenoisedParams:
    def __init__(self, x, sampling_step, total_sampling_steps, inner_model):
        self.x, self.sampling_step, self.total_sampling_steps, self.inner_model = (
            x, sampling_step, total_sampling_steps, inner_model)


class AfterCFGCallbackParams:
    def __init__(self, x, sampling_step, total_sampling_steps):
        self.x, self.sampling_step, self.total_sampling_steps = x, sampling_step, total_sampling_steps


class UiTrainTabParams:
    def __init__(self, txt2img_preview_params):
        self.txt2img_preview_params = txt2img_preview_params


class ImageGridLoopParams:
    def __init__(self, imgs, cols, rows):
        self.imgs, self.cols, self.rows = imgs, cols, rows


@dataclasses.dataclass
class BeforeTokenCounterParams:
    prompt: str
    steps: int
    styles: list
    is_positive: bool = True


def _callbacks(name: str) -> list[ScriptCallback]:
    return callback_map[f"callbacks_{name}"]


def _run(name: str, *args) -> list:
    """Call every `name` callback with args, each isolated; their return values (None for failures)."""
    return [guarded(extension_of(c.script), f"on_{name}", c.callback, *args) for c in list(_callbacks(name))]


def has(name: str) -> bool:
    return bool(_callbacks(name))


def clear_callbacks() -> None:
    for callbacks in callback_map.values():
        callbacks.clear()


def app_started_callback(demo, app) -> None:
    _run("app_started", demo, app)


def model_loaded_callback(sd_model) -> None:
    _run("model_loaded", sd_model)


def ui_tabs_callback() -> list:
    tabs = []
    for result in _run("ui_tabs"):
        tabs.extend(result or [])
    return tabs


def ui_train_tabs_callback(params) -> None:
    _run("ui_train_tabs", params)


def ui_settings_callback() -> None:
    _run("ui_settings")


def before_image_saved_callback(params: ImageSaveParams) -> None:
    _run("before_image_saved", params)


def image_saved_callback(params: ImageSaveParams) -> None:
    _run("image_saved", params)


def extra_noise_callback(params: ExtraNoiseParams) -> None:
    _run("extra_noise", params)


def cfg_denoiser_callback(params: CFGDenoiserParams) -> None:
    _run("cfg_denoiser", params)


def cfg_denoised_callback(params: CFGDenoisedParams) -> None:
    _run("cfg_denoised", params)


def cfg_after_cfg_callback(params: AfterCFGCallbackParams) -> None:
    _run("cfg_after_cfg", params)


def before_component_callback(component, **kwargs) -> None:
    _run_kw("before_component", component, kwargs)


def after_component_callback(component, **kwargs) -> None:
    _run_kw("after_component", component, kwargs)


def _run_kw(name: str, component, kwargs: dict) -> None:
    for c in list(_callbacks(name)):
        guarded(extension_of(c.script), f"on_{name}", c.callback, component, **kwargs)


def image_grid_callback(params: ImageGridLoopParams) -> None:
    _run("image_grid", params)


def infotext_pasted_callback(infotext: str, params: dict) -> None:
    _run("infotext_pasted", infotext, params)


def script_unloaded_callback() -> None:
    _run("script_unloaded")


def before_ui_callback() -> None:
    _run("before_ui")


def list_optimizers_callback() -> list:
    found: list = []
    for c in list(_callbacks("list_optimizers")):
        guarded(extension_of(c.script), "on_list_optimizers", c.callback, found)
    return found


def list_unets_callback() -> list:
    found: list = []
    for c in list(_callbacks("list_unets")):
        guarded(extension_of(c.script), "on_list_unets", c.callback, found)
    return found


def before_token_counter_callback(params: BeforeTokenCounterParams) -> None:
    _run("before_token_counter", params)


def _owner(callback) -> str:
    from modules.extensions.compat import scripts  # the file being imported, else where the function lives

    code = getattr(callback, "__code__", None)
    return scripts.current_script_file() or (code.co_filename if code else "unknown")


def add_callback(callbacks: list, fun, *, name: str | None = None, category: str = "unknown", filename=None) -> None:
    callbacks.append(ScriptCallback(filename or _owner(fun), fun, name or getattr(fun, "__name__", "callback")))


def remove_current_script_callbacks() -> None:
    """Drop the callbacks registered by the script file being imported now (A1111 calls it on reload)."""
    current = _owner(lambda: None)
    for callbacks in callback_map.values():
        callbacks[:] = [c for c in callbacks if c.script != current]


def remove_callbacks_for_function(callback_func) -> None:
    for callbacks in callback_map.values():
        callbacks[:] = [c for c in callbacks if c.callback != callback_func]


def _register(event: str):
    def on(callback, *, name: str | None = None):
        add_callback(_callbacks(event), callback, name=name)
    on.__name__ = f"on_{event}"
    on.__doc__ = f"Register a callback for {event} (A1111 `script_callbacks.on_{event}`)."
    return on


on_app_started = _register("app_started")
on_model_loaded = _register("model_loaded")
on_ui_tabs = _register("ui_tabs")
on_ui_train_tabs = _register("ui_train_tabs")
on_ui_settings = _register("ui_settings")
on_before_image_saved = _register("before_image_saved")
on_image_saved = _register("image_saved")
on_extra_noise = _register("extra_noise")
on_cfg_denoiser = _register("cfg_denoiser")
on_cfg_denoised = _register("cfg_denoised")
on_cfg_after_cfg = _register("cfg_after_cfg")
on_before_component = _register("before_component")
on_after_component = _register("after_component")
on_image_grid = _register("image_grid")
on_infotext_pasted = _register("infotext_pasted")
on_script_unloaded = _register("script_unloaded")
on_before_ui = _register("before_ui")
on_before_reload = _register("on_reload")
on_list_optimizers = _register("list_optimizers")
on_list_unets = _register("list_unets")
on_before_token_counter = _register("before_token_counter")

