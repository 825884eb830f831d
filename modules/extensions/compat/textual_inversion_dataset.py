"""A1111's `modules.textual_inversion.dataset`: the pattern of the number prefix A1111 cuts off image file names
before it uses them as captions, which caption tools import to read datasets the same way
(stable-diffusion-webui-dataset-tag-editor). The training dataset classes of that module are A1111's embedding
training, which Easel's page does not have; reading one says so.
"""
from __future__ import annotations

import re

re_numbers_at_start = re.compile(r"^[-\d]+\s*")  # "00012-3 a cat.png" → "a cat.png"


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no modules.textual_inversion.dataset.{name}: it is A1111's embedding training "
                         "dataset, and Easel has no embedding training in the UI (re_numbers_at_start is here)")
