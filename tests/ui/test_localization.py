"""A1111 localizations: the Settings dropdown lists the localizations/*.json found (refreshable), the page's first
<head> script carries the chosen one's data at every page load, a file that does not parse is reported (log, the
Extensions tab's problem column) and left out, and A1111's `shared.opts.localization` is the real setting."""
from __future__ import annotations

import json
import logging
import os
from types import SimpleNamespace

import gradio as gr
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modules.extensions.manager import ExtensionManager
from modules.jobs import JobQueue, JobStore
from modules.options.store import Options
from modules.ui import extensions_tab, localization, settings_tab
from modules.ui.context import UiConfig, UiContext
from modules.ui.layout import mount_kwargs
from tests.extensions import make_ext, make_flags, make_options, make_paths

BROKEN = '{"Generate": "Xx",}'  # a trailing comma: not JSON


@pytest.fixture
def site(tmp_path):
    """An install folder with one localization, extensions with two good ones and a broken one, and one disabled."""
    paths = make_paths(tmp_path)
    (paths.install_dir / "localizations").mkdir()
    (paths.install_dir / "localizations" / "de_DE.json").write_text(json.dumps({"Generate": "Generieren"}))
    (paths.data_dir / "config.json").write_text(json.dumps({"disabled_extensions": ["off"]}))
    make_ext(paths.extensions_dir, "zh", {
        "localizations/zh_CN.json": json.dumps({"Generate": "生成", "Seed": "种子"}),
        "localizations/ar_AR.json": json.dumps({"rtl": True, "Seed": "بذرة"})})
    make_ext(paths.extensions_dir, "bad", {"localizations/xx_Broken.json": BROKEN})
    make_ext(paths.extensions_dir, "off", {"localizations/ja_JP.json": json.dumps({"Generate": "生成する"})})
    options = make_options(paths)
    flags = make_flags()
    manager = ExtensionManager(paths, options, flags)
    manager.refresh(reorder=True)
    jobs = JobQueue(JobStore(":memory:"), lambda kind, request, job: None, {})  # Settings > Workers lists its slots
    app = SimpleNamespace(paths=paths, options=options, flags=flags, extensions=manager, jobs=jobs)
    return app, localization.Localizations.for_app(app)


def test_choices_are_none_and_every_localization_that_parses(site, caplog):
    app, found = site
    with caplog.at_level(logging.WARNING):
        assert found.choices() == ["None", "ar_AR", "de_DE", "zh_CN"]  # not the broken one, not the disabled one's
    assert "xx_Broken.json is not valid" in caplog.text
    problem = next(row[-1] for row in extensions_tab.installed_rows(app.extensions) if row[0] == "bad")
    assert "localizations/xx_Broken.json is not valid" in problem and "left out" in problem
    assert found.data("xx_Broken") == {} and found.data("nope") == {} and found.data("None") == {}
    assert found.data("zh_CN") == {"Generate": "生成", "Seed": "种子"}


def test_a_broken_file_is_reported_once_and_listed_again_when_fixed(tmp_path):
    folder = tmp_path / "localizations"
    folder.mkdir()
    (folder / "xx.json").write_text(BROKEN)
    reports = []
    found = localization.Localizations(lambda: [tmp_path], report=lambda file, text: reports.append(text))
    assert found.choices() == ["None"] and found.choices() == ["None"]
    assert len(reports) == 1 and "xx.json" in reports[0]
    (folder / "xx.json").write_text('{"Generate": "Xx"}')
    os.utime(folder / "xx.json", (1, 1))  # a new version of the file, whatever the clock's resolution
    (folder / "yy.json").write_text('{"Seed": "Yy"}')
    assert found.choices() == ["None", "xx"]  # the list itself is kept until refreshed
    assert found.choices(refresh=True) == ["None", "xx", "yy"]


def test_the_page_head_script_carries_the_chosen_localization_at_every_load(site):
    app, found = site
    server = FastAPI()
    head = mount_kwargs(app, server, found)["head"]
    assert head.startswith(localization.head_tag())  # before every other script: they may read it
    client = TestClient(server)

    def page_data() -> dict:
        response = client.get(localization.SCRIPT_ROUTE)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
        assert response.headers["cache-control"] == "no-cache"
        prefix = "window.localization = "
        assert response.text.startswith(prefix)
        return json.loads(response.text[len(prefix):].rstrip().rstrip(";"))

    assert page_data() == {}
    app.options.set("localization", "zh_CN")
    assert page_data() == {"Generate": "生成", "Seed": "种子"}  # no restart: the next page load has it
    app.options.set("localization", "ar_AR")
    assert page_data() == {"rtl": True, "Seed": "بذرة"}
    app.options.set("localization", "xx_Broken")
    assert page_data() == {}  # the page works untranslated
    app.options.set("localization", "gone")
    assert page_data() == {}


def test_settings_tab_has_the_localization_dropdown_with_refresh(site):
    app, found = site
    ctx = UiContext(app=app, ui_config=UiConfig(None), localizations=found)
    with gr.Blocks() as blocks:
        settings_tab.build(ctx)
    by_id = {b.elem_id: b for b in blocks.blocks.values() if getattr(b, "elem_id", None)}
    dropdown = by_id["setting_localization"]
    assert isinstance(dropdown, gr.Dropdown) and dropdown.value == "None"
    assert [c[0] for c in dropdown.choices] == ["None", "ar_AR", "de_DE", "zh_CN"]
    assert dropdown.label == "Localization (requires Reload UI)"
    assert "download_localization" in by_id

    make_ext(app.paths.extensions_dir, "later", {"localizations/fr_FR.json": '{"Generate": "Générer"}'})
    app.extensions.refresh(reorder=True)  # an extension added while running (its files load at restart)
    refresh = by_id["refresh_localization"]._id
    fn = next(f.fn for f in blocks.fns.values() if (refresh, "click") in f.targets)
    assert fn()["choices"] == ["None", "ar_AR", "de_DE", "fr_FR", "zh_CN"]

    # chosen elsewhere (API, another page) after the page was built: a page load shows it, so Apply keeps it
    app.options.set("localization", "zh_CN")
    keys, _ = ctx.shared["settings_fields"]
    with blocks:
        settings_tab.show_current_values(ctx, blocks)
    load = next(f.fn for f in blocks.fns.values() if any(event == "load" for _, event in f.targets))
    updates = dict(zip(keys, load()))
    assert updates["localization"]["value"] == "zh_CN" and "fr_FR" in updates["localization"]["choices"]
    assert updates["quicksettings_list"]["value"] == list(app.options.get("quicksettings_list"))


def test_applying_the_setting_says_to_reload_the_page(site):
    app, _ = site
    text = settings_tab.apply_changes(app.options, ["localization"], ["zh_CN"])
    assert "localization" in text and "Reload UI" in text and "Restart" not in text
    assert json.loads(app.paths.config_json.read_text())["localization"] == "zh_CN"


def test_a1111_shared_opts_localization_is_the_setting():
    from modules.extensions.compat import binding
    from modules.extensions.compat.options_view import OptionInfo, OptionsView, setting_of

    options = Options(None)
    binding.bind(SimpleNamespace(options=options))
    try:
        opts = OptionsView()
        assert opts.localization == "None"
        options.set("localization", "zh_CN")
        assert opts.localization == "zh_CN"
        opts.localization = "None"
        assert options.get("localization") == "None"
        assert "localization" in opts.data_labels and opts.data_labels["localization"].section[1] == "User interface"
    finally:
        binding.unbind()
    reload_row = setting_of("x_theme", OptionInfo("a", "Theme").needs_reload_ui())
    assert reload_row.reload and not reload_row.restart
