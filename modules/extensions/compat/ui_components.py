"""A1111's `modules.ui_components` (1.7+): small Gradio components extensions build their panels from.

They work with or without the Gradio 3 shim. A class whose `__init__` forwards keywords to its Gradio parent carries
the parent's signature (`_speaks_for`): Gradio reads a component's configuration for the page from its constructor's
parameters and would otherwise send an empty one. No `.pyi` stub is written beside this file.
"""
from __future__ import annotations

import inspect

import gradio as gr
from gradio.context import get_blocks_context

from .gradio3 import no_pyi_stubs

TOOL_BUTTON_DEFAULTS = {"scale": 0, "min_width": 36}  # as Easel's own tool buttons (modules/ui)


def _accepted(cls: type, kwargs: dict) -> dict:
    """The keywords of `kwargs` that `cls.__init__` takes (A1111 passes one set of keywords to two components)."""
    names = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in kwargs.items() if k in names}


def _classes(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _speaks_for(gradio_class: type):
    """Class decorator: the class's `__init__` presents `gradio_class.__init__`'s parameters to Gradio."""
    def decorate(cls: type) -> type:
        cls.__init__.__signature__ = inspect.signature(gradio_class.__init__)
        return cls

    return decorate


with no_pyi_stubs():

    class FormComponent:
        """Mixin: the component sits in a Gradio form (grouped with its neighbours like a textbox)."""

        webui_do_not_create_gradio_pyi_thank_you = True

        def get_expected_parent(self):
            if getattr(self, "container", None) is False:  # as Gradio's own form components
                return None
            return gr.components.Form

    @_speaks_for(gr.Button)
    class ToolButton(gr.Button, FormComponent):
        """Small square button holding one emoji (🔄, 🎲 …). As in A1111, gr.Button comes first in the bases, so
        the button is not pulled into its neighbours' form."""

        def __init__(self, *args, **kwargs):
            classes = _classes(kwargs.pop("elem_classes", None))
            tooltip = kwargs.pop("tooltip", None)  # Gradio's button has none; the Gradio 3 shim sends it to the page
            for key, value in TOOL_BUTTON_DEFAULTS.items():
                kwargs.setdefault(key, value)
            super().__init__(*args, elem_classes=["tool", *classes], **kwargs)
            if tooltip:
                self.webui_tooltip = str(tooltip)


        def get_block_name(self):
            return "button"

    @_speaks_for(gr.Row)
    class ResizeHandleRow(gr.Row):
        """gr.Row whose columns the page lets the user resize (class `resize-handle-row`)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.elem_classes.append("resize-handle-row")


        def get_block_name(self):
            return "row"

    class FormRow(FormComponent, gr.Row):
        """gr.Row that fits inside forms."""


        def get_block_name(self):
            return "row"

    class FormColumn(FormComponent, gr.Column):
        """gr.Column that fits inside forms."""


        def get_block_name(self):
            return "column"

    class FormGroup(FormComponent, gr.Group):
        """gr.Group that fits inside forms."""


        def get_block_name(self):
            return "group"

    class FormHTML(FormComponent, gr.HTML):
        """gr.HTML that fits inside forms (always: Gradio's HTML has no container by default)."""

        def get_expected_parent(self):
            return gr.components.Form


        def get_block_name(self):
            return "html"

    class FormColorPicker(FormComponent, gr.ColorPicker):
        """gr.ColorPicker that fits inside forms."""


        def get_block_name(self):
            return "colorpicker"

    @_speaks_for(gr.Dropdown)
    class DropdownMulti(FormComponent, gr.Dropdown):
        """gr.Dropdown with several values."""

        def __init__(self, **kwargs):
            super().__init__(multiselect=True, **kwargs)


        def get_block_name(self):
            return "dropdown"

    @_speaks_for(gr.Dropdown)
    class DropdownEditable(FormComponent, gr.Dropdown):
        """gr.Dropdown the user may also type a value into."""

        def __init__(self, **kwargs):
            super().__init__(allow_custom_value=True, **kwargs)


        def get_block_name(self):
            return "dropdown"

    @_speaks_for(gr.Checkbox)
    class InputAccordion(gr.Checkbox):
        """An accordion that is also an input: its value (a hidden checkbox's) is True while it is open.

            with InputAccordion(False, label="My extension") as enabled:   # `enabled` goes in ui()'s return list
                with enabled.extra():                                       # optional: beside the title
                    FormHTML("…")
                strength = gr.Slider(...)

        Opening or closing the accordion sets the value; setting the value (infotext paste, an event) opens or
        closes the accordion. Element ids follow A1111: `<id>`, `<id>-checkbox`, `<id>-extra`.
        """

        webui_do_not_create_gradio_pyi_thank_you = True
        global_index = 0

        def __init__(self, value=False, **kwargs):
            self.accordion_id = kwargs.get("elem_id")
            if self.accordion_id is None:
                self.accordion_id = f"input-accordion-{InputAccordion.global_index}"
                InputAccordion.global_index += 1
            kwargs.pop("tooltip", None)
            checkbox = {**kwargs, "elem_id": f"{self.accordion_id}-checkbox", "visible": "hidden", "container": False}
            super().__init__(bool(value), **_accepted(gr.Checkbox, checkbox))
            accordion = {**kwargs, "elem_id": self.accordion_id, "label": kwargs.get("label", "Accordion"),
                         "elem_classes": ["input-accordion", *_classes(kwargs.get("elem_classes"))],
                         "open": bool(value)}
            self.accordion = gr.Accordion(**_accepted(gr.Accordion, accordion))
            if get_blocks_context() is not None:
                self._link()

        def _link(self) -> None:
            """Value → accordion, and accordion → value; private events, answered without the queue."""
            quiet = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
            self.change(fn=_open_state, inputs=[self], outputs=[self.accordion], **quiet)
            self.accordion.expand(fn=_opened, inputs=None, outputs=[self], **quiet)
            self.accordion.collapse(fn=_closed, inputs=None, outputs=[self], **quiet)

        def extra(self):
            """A column for components shown with the accordion's title (A1111 moves it there in the page)."""
            return gr.Column(elem_id=f"{self.accordion_id}-extra", elem_classes="input-accordion-extra", min_width=0)

        def __enter__(self):
            self.accordion.__enter__()
            return self

        def __exit__(self, exc_type, exc_val, exc_tb):
            self.accordion.__exit__(exc_type, exc_val, exc_tb)


        def get_block_name(self):
            return "checkbox"


def _open_state(checked):
    return gr.update(open=bool(checked))


def _opened():
    return True


def _closed():
    return False


__all__ = ["FormComponent", "ToolButton", "ResizeHandleRow", "FormRow", "FormColumn", "FormGroup", "FormHTML",
           "FormColorPicker", "DropdownMulti", "DropdownEditable", "InputAccordion"]
