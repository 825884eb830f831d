"""Gradio 3.41 idioms (A1111 1.x's Gradio) for extensions, under the current Gradio.

`install_gradio3_shim()` patches Gradio's classes so that extension code written for Gradio 3 runs unchanged:

- `gr.<Component>.update(...)` → `gr.update(...)`, Gradio 3's names translated and vanished ones dropped;
- `_js=` (and `status_tracker=`, `show_api=`, `every=`) on every event listener, `.then()` and `Blocks.load`;
- `.style(...)` on every block returns the block and applies what still exists (`grid`→`columns`, `height`,
  `container`, `equal_height`, `full_width`→`scale`…);
- constructor keywords Gradio has removed (`source=`, `tool=`, `brush_radius=`, `shape=`, `show_*_button=`,
  …) are translated where a successor exists and otherwise dropped, as Gradio 3 itself warned about and ignored
  unknown keywords; A1111's `tooltip=` goes into the component's configuration as `webui_tooltip`, which
  javascript/hints.js shows as the element's title; `gr.Button(variant="tool")` becomes a secondary button of
  class `tool`;
- `gr.Image(tool="sketch" | "color-sketch")` and `gr.Image(source="canvas")` draw on Gradio's image editor and give
  Gradio 3's values (`{"image", "mask"}` for a sketch; see gradio3_drawing);
- `visible=False` from an extension's code keeps the component in the page, hidden (Gradio 3's behaviour; see
  gradio3_visibility);
- `gr.Box` (→ Group), `gr.Variable` (→ State), `gr.components.IOComponent` (→ Component);
- `Blocks.dependencies`, the listeners as Gradio 3 listed them (see gradio3_blocks);
- a subclass whose `__init__` only forwards `**kwargs` (A1111's ToolButton pattern) keeps its configuration in the
  page, and Gradio writes no `.pyi` stub beside an extension's file.

This folder is the only place allowed to patch library classes. Every patch is recorded and
`uninstall_gradio3_shim()` puts each attribute back (tests rely on it).
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import re
from collections.abc import Callable
from typing import Any

import gradio as gr
import gradio.component_meta as component_meta
import gradio.components as gr_components
import gradio.layouts as gr_layouts
from gradio.blocks import Block, BlockContext
from gradio.context import get_blocks_context
from gradio.events import EventListener

from modules.extensions.compat.gradio3_visibility import from_extension, hidden, keeping_in_page

log = logging.getLogger(__name__)

_MISSING = object()
_patches: list[tuple[Any, str, Any, Any]] = []  # (owner, name, previous value or _MISSING, installed value)
_reported: set[tuple[str, str]] = set()  # (class or listener, keyword) already logged as dropped


# --- keyword translation: data ------------------------------------------------------------------------------------

def _sources(value) -> dict:
    """Gradio 3's single `source=` → `sources=[...]`; "canvas" (a blank sketch) has no counterpart on gr.Image."""
    values = [value] if isinstance(value, str) else list(value or [])
    kept = [v for v in values if v != "canvas"]
    return {"sources": kept} if kept else {}


def _webcam_options(value) -> dict:
    return {"webcam_options": gr.WebcamOptions(mirror=bool(value))}


# Gradio 3 keyword → the keywords that replace it (merged in unless the caller already gave them).
RENAMED_KWARGS: dict[str, Callable[[Any], dict]] = {
    "source": _sources,
    "mirror_webcam": _webcam_options,
}

# (Gradio class, keyword) → {Gradio 3 value: value now}.
RENAMED_VALUES: list[tuple[type, str, dict]] = [
    (gr.File, "type", {"file": "filepath", "bytes": "binary"}),
    (gr.UploadButton, "type", {"file": "filepath", "bytes": "binary"}),
]
_VALUE_KEYS = {"type", "variant"}

BUTTON_VARIANTS = ("primary", "secondary", "stop", "huggingface")
_BUTTON_FLAG = re.compile(r"^show_(\w+)_button$")
# Gradio 4/5's `show_X_button=` became `buttons=[...]`; these are the ones shown when nobody said otherwise.
SHOWN_BY_DEFAULT = ("download", "fullscreen")

# `.style(...)` keyword → (attribute, value converter); anything else is applied when the block has that parameter.
STYLE_RENAMES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "grid": ("columns", lambda v: (v[-1] if v else None) if isinstance(v, (list, tuple)) else v),
    "columns": ("columns", lambda v: (v[-1] if v else None) if isinstance(v, (list, tuple)) else v),
    "rows": ("rows", lambda v: (v[-1] if v else None) if isinstance(v, (list, tuple)) else v),
    "full_width": ("scale", lambda v: 1 if v else 0),
}


# --- keyword translation: functions -------------------------------------------------------------------------------

def _is_gradio(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "gradio"


@functools.cache
def _parameters(cls: type) -> tuple[frozenset, bool]:
    """(names `cls.__init__` accepts, whether it also takes **kwargs)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    names = frozenset(p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


@functools.cache
def config_class(cls: type) -> type:
    """The class whose constructor parameters describe `cls` to the page: itself, unless its `__init__` only
    forwards **kwargs to a Gradio parent (then Gradio would find no parameter and send an empty configuration)."""
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        if _is_gradio(klass) or not _parameters(klass)[1]:
            return klass
    return cls


def _note_dropped(owner: str, key: str) -> None:
    if (owner, key) not in _reported:
        _reported.add((owner, key))
        log.debug("Gradio 3 compatibility: %s no longer takes %r; ignored", owner, key)


def _classes(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _buttons(cls: type, flags: dict[str, bool]) -> list[str]:
    annotation = str(inspect.signature(cls.__init__).parameters["buttons"].annotation)
    offered = re.findall(r"'(\w+)'", annotation)
    return [name for name in offered if flags.get(name, name in SHOWN_BY_DEFAULT)]


def _fix_values(cls: type, kw: dict) -> None:
    for klass, key, mapping in RENAMED_VALUES:
        if issubclass(cls, klass) and kw.get(key) in mapping:
            kw[key] = mapping[kw[key]]
    if issubclass(cls, gr.Button) and "variant" in kw and kw["variant"] not in BUTTON_VARIANTS:
        if kw["variant"] == "tool" and "tool" not in _classes(kw.get("elem_classes")):
            kw["elem_classes"] = _classes(kw.get("elem_classes")) + ["tool"]
        kw["variant"] = "secondary"


def translate_kwargs(cls: type, kwargs: dict) -> dict:
    """Gradio 3 constructor (or `update`) keywords for `cls` → keywords its current `__init__` accepts."""
    accepted, open_ended = _parameters(cls)
    if not kwargs or (kwargs.keys() <= accepted and not kwargs.keys() & _VALUE_KEYS):
        return kwargs
    out = dict(kwargs)
    for old, rule in RENAMED_KWARGS.items():
        if old in out and old not in accepted:
            for key, value in rule(out.pop(old)).items():
                out.setdefault(key, value)
    flags = {m.group(1): bool(out.pop(k)) for k in list(out) if k not in accepted and (m := _BUTTON_FLAG.match(k))}
    if flags and "buttons" in accepted and "buttons" not in out:
        out["buttons"] = _buttons(cls, flags)
    _fix_values(cls, out)
    if not open_ended:
        for key in [k for k in out if k not in accepted]:
            del out[key]
            _note_dropped(cls.__name__, key)
    return out


# --- the patched members --------------------------------------------------------------------------------------------

def _shimmed_init(cls: type, original: Callable) -> Callable:
    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        tooltip = kwargs.pop("tooltip", None) if "tooltip" not in _parameters(cls)[0] else None
        if tooltip:  # A1111's `tooltip=` on any component: sent with its configuration, shown by hints.js
            self.webui_tooltip = str(tooltip)
        if kwargs.get("visible") is False and from_extension():
            kwargs = hidden(kwargs)
        return original(self, *args, **translate_kwargs(cls, kwargs))

    return __init__


def _update(cls, *args, **kwargs) -> dict:
    """Gradio 3's `gr.<Component>.update(...)`; as there, a positional argument is the value."""
    if args:
        kwargs.setdefault("value", args[0])
    return gr.update(**translate_kwargs(cls, hidden(kwargs)))  # Gradio 3 kept hidden components in the page


def _style(self, *args, **kwargs):
    """Gradio 3's `.style(...)`: applies what the block still has, ignores the rest, returns the block."""
    accepted = _parameters(config_class(type(self)))[0]
    for key, value in kwargs.items():
        attribute, convert = STYLE_RENAMES.get(key, (key, lambda v: v))
        if attribute in accepted:
            setattr(self, attribute, convert(value))
    return self


def _translate_listener_kwargs(name: str, kwargs: dict, accepted: frozenset) -> Any:
    """Rewrites a Gradio 3 listener's keywords in place; returns its `every=` (polling period) if any."""
    js = kwargs.pop("_js", None)
    if js is not None and kwargs.get("js") is None:
        kwargs["js"] = js
    if "show_api" in kwargs and "show_api" not in accepted and not kwargs.pop("show_api"):
        kwargs.setdefault("api_visibility", "undocumented")
    every = kwargs.pop("every", None) if "every" not in accepted else None
    for key in [k for k in kwargs if k not in accepted]:
        del kwargs[key]
        _note_dropped(f".{name}()", key)
    return every


def _poll(dependency, listener: Callable, block, args: tuple, kwargs: dict, every) -> None:
    """Gradio 3's `every=` on a listener: after the event, call its function again every `every` seconds."""
    bound = inspect.signature(listener).bind(block, *args, **kwargs).arguments
    bound.pop("block", None)
    if not callable(bound.get("fn")) or get_blocks_context() is None or not every or every <= 0:
        return
    timer = gr.Timer(every, active=False)
    timer.tick(**bound)
    dependency.then(lambda: gr.update(active=True), None, [timer], queue=False, show_progress="hidden",
                    api_visibility="private")


def _keeping_in_page(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """A listener's (args, kwargs) with its `fn` (first positional or keyword) wrapped by keeping_in_page."""
    if args and callable(args[0]):
        return (keeping_in_page(args[0]), *args[1:]), kwargs
    if callable(kwargs.get("fn")):
        return args, {**kwargs, "fn": keeping_in_page(kwargs["fn"])}
    return args, kwargs


def _shimmed_listener(listener: Callable) -> Callable:
    if getattr(listener, "__gradio3_shim__", False):
        return listener
    accepted = frozenset(inspect.signature(listener).parameters)
    name = getattr(listener, "event_name", listener.__name__)

    @functools.wraps(listener)
    def shimmed(block, *args, **kwargs):
        every = _translate_listener_kwargs(name, kwargs, accepted)
        if from_extension():
            args, kwargs = _keeping_in_page(args, kwargs)
        dependency = listener(block, *args, **kwargs)
        if every is not None:
            _poll(dependency, listener, block, args, kwargs, every)
        return dependency

    shimmed.__gradio3_shim__ = True
    return shimmed


def _shimmed_setup(original: Callable) -> Callable:
    """EventListener._setup builds every listener Gradio makes later (`.then`, `.success`, new component classes)."""
    @functools.wraps(original)
    def _setup(*args, **kwargs):
        return _shimmed_listener(original(*args, **kwargs))

    return _setup


def _shimmed_get_config(original: Callable) -> Callable:
    @functools.wraps(original)
    def get_config(self, cls=None):
        config = original(self, cls if cls is not None else config_class(type(self)))
        tooltip = getattr(self, "webui_tooltip", None)
        if tooltip:  # A1111's key (its gradio_extensons.py): the page's hints.js reads it from gradio_config
            config["webui_tooltip"] = tooltip
        return config

    return get_config


def _shimmed_pyi(original: Callable) -> Callable:
    @functools.wraps(original)
    def create_or_modify_pyi(component_class, class_name, events):
        if _is_gradio(component_class):
            return original(component_class, class_name, events)
        return None  # an extension's (or Easel's) subclass: no stub written beside its source file

    return create_or_modify_pyi


@contextlib.contextmanager
def no_pyi_stubs():
    """Define Gradio component subclasses without Gradio writing a `.pyi` beside this package's files."""
    previous = component_meta.create_or_modify_pyi
    component_meta.create_or_modify_pyi = lambda *args, **kwargs: None
    try:
        yield
    finally:
        component_meta.create_or_modify_pyi = previous


# --- install / uninstall --------------------------------------------------------------------------------------------

def _patch(owner: Any, name: str, value: Any, previous: Any = _MISSING) -> None:
    """Set `owner.name`; uninstalling puts back what was there (or `previous` where nothing was: deleted)."""
    _patches.append((owner, name, vars(owner).get(name, previous), value))
    setattr(owner, name, value)


def _block_classes() -> list[type]:
    seen: dict[type, None] = {}
    pending = [Block]
    while pending:
        cls = pending.pop()
        if cls not in seen:
            seen[cls] = None
            pending.extend(cls.__subclasses__())
    return list(seen)


def is_installed() -> bool:
    return bool(_patches)


def install_gradio3_shim() -> None:
    """Patch Gradio so that Gradio 3 idioms work (idempotent)."""
    if _patches:
        return
    bases = (Block, BlockContext, gr_components.Component, gr_components.FormComponent)
    for cls in _block_classes():
        # Bases are never built directly, and component_hooks wraps their __init__ too: theirs stays untouched.
        if _is_gradio(cls) and "__init__" in vars(cls) and cls not in bases:
            _patch(cls, "__init__", _shimmed_init(cls, vars(cls)["__init__"]))
        for name, value in list(vars(cls).items()):
            if inspect.isfunction(value) and hasattr(value, "event_name"):
                _patch(cls, name, _shimmed_listener(value))
    from modules.extensions.compat import gradio3_drawing  # it subclasses Gradio's editor and imports this module

    _patch(gr.Image, "__new__", staticmethod(gradio3_drawing.new_image),
           previous=staticmethod(gradio3_drawing.inherited_new))
    _patch(EventListener, "_setup", staticmethod(_shimmed_setup(vars(EventListener)["_setup"].__func__)))
    _patch(Block, "get_config", _shimmed_get_config(vars(Block)["get_config"]))
    _patch(component_meta, "create_or_modify_pyi", _shimmed_pyi(component_meta.create_or_modify_pyi))
    from modules.extensions.compat.gradio3_blocks import dependencies

    for owner, name, value in [(Block, "update", classmethod(_update)), (Block, "style", _style),
                               (gr.Blocks, "dependencies", property(dependencies)),
                               (gr, "Box", gr.Group), (gr_layouts, "Box", gr.Group), (gr, "Variable", gr.State),
                               (gr_components, "IOComponent", gr_components.Component)]:
        if not hasattr(owner, name):
            _patch(owner, name, value)
    _parameters.cache_clear()
    config_class.cache_clear()


def uninstall_gradio3_shim() -> None:
    """Undo every patch, newest first. An attribute someone else replaced since is left to them, with a warning."""
    while _patches:
        owner, name, previous, installed = _patches.pop()
        if vars(owner).get(name, _MISSING) is not installed:
            log.warning("Gradio 3 compatibility: %s.%s was replaced by someone else; left as it is", owner, name)
        elif previous is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, previous)
    _parameters.cache_clear()
    config_class.cache_clear()
