"""A1111's --freeze-settings, --freeze-settings-in-sections and --freeze-specific-settings: a frozen setting cannot
change through POST /options, the Settings tab (both Options.update) or a request's override_settings, but may be
sent back unchanged; what is not frozen changes as before."""
from __future__ import annotations

import pytest

import webui
from modules import cli
from modules.errors import InvalidInput
from modules.options import Options
from modules.options.frozen import FrozenSettings


def frozen_options(tmp_path, *argv) -> Options:
    flags = cli.parse_args(list(argv), env={})
    return Options(tmp_path / "config.json", frozen=FrozenSettings.from_flags(
        flags.freeze_settings, flags.freeze_settings_in_sections, flags.freeze_specific_settings,
        flags.hide_ui_dir_config))


@pytest.mark.parametrize("argv, key, value, section_word", [
    (["--freeze-settings"], "eta_ddim", 0.5, "--freeze-settings"),
    (["--freeze-settings-in-sections", "sd, saving-images"], "CLIP_stop_at_last_layers", 2, "Stable Diffusion (sd)"),
    (["--freeze-settings-in-sections", "Saving images"], "samples_format", "jpg", "Saving images"),
    (["--freeze-specific-settings", "eta_ddim,sd_vae"], "eta_ddim", 0.5, "--freeze-specific-settings"),
])
def test_a_frozen_setting_cannot_change_anywhere(tmp_path, argv, key, value, section_word):
    options = frozen_options(tmp_path, *argv)
    before = options.get(key)
    with pytest.raises(InvalidInput, match=key) as refused:
        options.update({key: value})
    assert section_word in str(refused.value) and options.get(key) == before
    with pytest.raises(InvalidInput, match=f"override_settings.{key}"):
        options.snapshot({key: value})
    assert options.update({key: before}) == []  # sent back unchanged: fine
    assert not (tmp_path / "config.json").exists()  # nothing written


def test_what_is_not_frozen_still_changes(tmp_path):
    options = frozen_options(tmp_path, "--freeze-settings-in-sections", "sd", "--freeze-specific-settings", "rho")
    assert options.update({"eta_ddim": 0.25}) == ["eta_ddim"]
    assert options.snapshot({"s_churn": 0.5}).s_churn == 0.5


def test_the_app_is_built_with_the_flags_freeze(tmp_path):
    flags = cli.parse_args(["--data-dir", str(tmp_path), "--freeze-specific-settings", "eta_ddim"], env={})
    app = webui.build_app(flags)
    try:
        with pytest.raises(InvalidInput, match="eta_ddim"):
            app.options.update({"eta_ddim": 0.75})
    finally:
        app.jobs.close()


def test_hide_ui_dir_config_fixes_and_hides_the_folder_settings(tmp_path):
    from modules.options.table import SETTINGS
    from modules.ui.settings_tab import sections

    options = frozen_options(tmp_path, "--hide-ui-dir-config")
    with pytest.raises(InvalidInput, match="outdir_txt2img_samples.*--hide-ui-dir-config"):
        options.snapshot({"outdir_txt2img_samples": "/elsewhere"})
    assert options.update({"eta_ddim": 0.5}) == ["eta_ddim"]  # other settings are not frozen
    shown = {s.key for rows in sections({s.key: s for s in SETTINGS}, options.frozen.hidden).values() for s in rows}
    assert "outdir_txt2img_samples" not in shown and "samples_format" in shown
    plain = {s.key for rows in sections({s.key: s for s in SETTINGS}).values() for s in rows}
    assert "outdir_txt2img_samples" in plain


def test_hide_ui_dir_config_turns_img2img_from_a_folder_off(tmp_path):
    from types import SimpleNamespace

    from modules.errors import EaselError
    from modules.ui.img2img_tab import _batch_work

    ctx = SimpleNamespace(app=SimpleNamespace(flags=cli.parse_args(["--hide-ui-dir-config"], env={})))
    with pytest.raises(EaselError, match="--hide-ui-dir-config"):
        _batch_work(ctx, object, {}, str(tmp_path), "", "")
