"""Settings nobody may change while Easel runs (A1111's --freeze-settings, --freeze-settings-in-sections,
--freeze-specific-settings, and the folder settings under --hide-ui-dir-config): not through POST
/sdapi/v1/options, the Settings tab, nor a request's override_settings. config.json is still read at start, so an
administrator changes them there, Easel stopped."""
from __future__ import annotations

from dataclasses import dataclass

# Easel's section labels → A1111's section ids, so --freeze-settings-in-sections takes either
A1111_SECTION_IDS = {
    "Saving images": "saving-images", "Stable Diffusion": "sd", "Stable Diffusion XL": "sdxl", "img2img": "img2img",
    "Optimizations": "optimizations", "Compatibility": "compatibility", "Interrogate": "interrogate",
    "Extra Networks": "extra_networks", "User interface": "ui", "Infotext": "infotext",
    "Sampler parameters": "sampler-params", "Upscaling": "upscaling", "Face restoration": "face-restoration",
    "API": "API", "Hypertile": "hypertile", "ControlNet": "control_net", "Extensions": "extensions",
}


# the settings that name files and folders: --hide-ui-dir-config hides and freezes them. A1111's `restricted_opts`
# (compat/shared_options.py keeps its exact list for extensions) plus outdir_img2img_grids, which A1111 leaves out
FOLDER_SETTINGS = frozenset({
    "samples_filename_pattern", "directories_filename_pattern", "outdir_samples", "outdir_txt2img_samples",
    "outdir_img2img_samples", "outdir_extras_samples", "outdir_grids", "outdir_txt2img_grids", "outdir_img2img_grids",
    "outdir_save", "outdir_init_images", "temp_dir", "clean_temp_dir_at_start",
})


def _names(text: str | None) -> frozenset[str]:
    """A1111's comma-separated list, trimmed, compared case-insensitively.

    >>> sorted(_names(" sd, Saving images ,"))
    ['saving images', 'sd']
    """
    return frozenset(part.strip().lower() for part in (text or "").split(",") if part.strip())


@dataclass(frozen=True)
class FrozenSettings:
    """Which settings are frozen: all of them, those of some sections (Easel's label or A1111's id), some keys."""

    everything: bool = False
    sections: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    folders: bool = False  # --hide-ui-dir-config: the folder settings (FOLDER_SETTINGS)

    @classmethod
    def from_flags(cls, freeze: bool, sections: str | None, keys: str | None,
                   hide_folders: bool = False) -> FrozenSettings:
        return cls(bool(freeze), _names(sections), _names(keys), bool(hide_folders))

    def hidden(self, key: str) -> bool:
        """Whether the Settings tab leaves the setting out (the folder settings under --hide-ui-dir-config)."""
        return self.folders and key in FOLDER_SETTINGS

    def reason(self, key: str, section: str) -> str | None:
        """Why `key` (in `section`) cannot change, or None.

        >>> FrozenSettings(sections=frozenset({"sd"})).reason("CLIP_stop_at_last_layers", "Stable Diffusion")
        'is frozen: its section Stable Diffusion (sd) was frozen at start (--freeze-settings-in-sections)'
        >>> FrozenSettings().reason("eta_ddim", "Sampler parameters") is None
        True
        """
        if self.everything:
            return "is frozen: changing settings was turned off at start (--freeze-settings)"
        if self.hidden(key):
            return "is a folder setting, fixed at start (--hide-ui-dir-config)"
        section_id = A1111_SECTION_IDS.get(section, section)
        if self.sections & {section.lower(), section_id.lower()}:
            return (f"is frozen: its section {section} ({section_id}) was frozen at start "
                    "(--freeze-settings-in-sections)")
        if key.lower() in self.keys:
            return "is frozen at start (--freeze-specific-settings)"
        return None


NOTHING_FROZEN = FrozenSettings()
