"""A1111's `modules.options` names (OptionInfo, OptionHTML, options_section, Options, categories), added to
Easel's own `modules.options` package when extensions load (core_extras.py)."""
from __future__ import annotations

from dataclasses import dataclass

from modules.extensions.compat.options_view import OptionHTML, OptionInfo, OptionsView, options_section


@dataclass
class OptionsCategory:
    id: str
    label: str


class OptionsCategories:
    """A1111's categories of settings sections (System, Stable Diffusion, …): `register_category(id, label)`."""

    def __init__(self):
        self.mapping: dict[str, OptionsCategory] = {}

    def register_category(self, category_id: str, label: str) -> str:
        if category_id not in self.mapping:
            self.mapping[category_id] = OptionsCategory(category_id, label)
        return category_id


categories = OptionsCategories()
for _id, _label in (("saving", "Saving images"), ("sd", "Stable Diffusion"), ("ui", "User Interface"),
                    ("system", "System"), ("postprocessing", "Postprocessing"), ("training", "Training")):
    categories.register_category(_id, _label)

NAMES = {"OptionInfo": OptionInfo, "OptionHTML": OptionHTML, "options_section": options_section,
         "Options": OptionsView, "OptionsCategory": OptionsCategory, "OptionsCategories": OptionsCategories,
         "categories": categories}
