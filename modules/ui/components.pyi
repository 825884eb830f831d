"""Image inputs that answer a file which is not an image with a message naming the field, not a traceback."""
from __future__ import annotations

import gradio as gr
from PIL import UnidentifiedImageError

NOT_AN_IMAGE = "{label}: the uploaded file is not an image Easel can read (use PNG, JPEG or WebP)"


def _refuse(component, error: Exception):
    label = component.label or component.elem_id or "image"
    raise gr.Error(NOT_AN_IMAGE.format(label=label), print_exception=False) from error

from gradio.events import Dependency

class SafeImage(gr.Image):
    """gr.Image whose preprocessing failure on a corrupt or non-image upload becomes a user message."""

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            _refuse(self, e)

    def get_block_name(self) -> str:
        return "image"
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class SafeImageEditor(gr.ImageEditor):
    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            _refuse(self, e)

    def get_block_name(self) -> str:
        return "imageeditor"
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class SafeImageMask(gr.ImageMask):
    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            _refuse(self, e)

    def get_block_name(self) -> str:
        return "imageeditor"
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component