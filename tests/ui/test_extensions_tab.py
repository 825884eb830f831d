"""The Extensions tab over a real ExtensionManager: its handlers (the functions its buttons call) install from
file:// repositories, apply the enabled column, check for updates, load the Available list; and the page's assets
(JS/CSS of enabled extensions only, localizations, A1111's file= route) with no way out of extension folders."""
from __future__ import annotations

import json
from types import SimpleNamespace

import gradio as gr
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modules.extensions.manager import ExtensionManager
from modules.ui import assets, extensions_tab
from modules.ui.context import UiConfig, UiContext
from tests.extensions import commit, git, make_ext, make_flags, make_options, make_paths, make_repo, url


def build_tab(paths, *flags):
    options, parsed = make_options(paths), make_flags(*flags)
    manager = ExtensionManager(paths, options, parsed)
    ctx = UiContext(app=SimpleNamespace(extensions=manager, flags=parsed, options=options), ui_config=UiConfig(None))
    with gr.Blocks() as blocks:
        extensions_tab.build(ctx)
    return manager, blocks


def component(blocks, elem_id):
    return next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def handler(blocks, elem_id):
    """The function a click on the element with this id runs."""
    target = component(blocks, elem_id)._id
    return next(f.fn for f in blocks.fns.values() if (target, "click") in f.targets)


def test_tab_lists_extensions_with_their_git_details_and_problems(tmp_path):
    paths = make_paths(tmp_path)
    repo = make_repo(tmp_path / "src", "listed", {"a.txt": "x"}, branch="trunk")
    git(paths.extensions_dir, "clone", "-q", url(repo), "listed")
    make_ext(paths.builtin_extensions_dir, "shipped")
    make_ext(paths.extensions_dir, "needs", {"metadata.ini": "[Extension]\nRequires = absent\n"})
    manager, blocks = build_tab(paths)
    rows = extensions_tab.installed_rows(manager)
    assert [r[0] for r in rows] == ["shipped", "listed", "needs"]
    shipped, listed, needs = rows
    assert shipped[1] == "built-in" and listed[1] == url(repo) and listed[2] == "trunk"
    assert listed[3] == git(repo, "rev-parse", "HEAD")[:8] and listed[4].startswith("20")
    assert listed[extensions_tab.ENABLED_COL] is True and "requires 'absent'" in needs[-1]
    ids = {getattr(b, "elem_id", None) for b in blocks.blocks.values()}
    for elem_id in ("extensions_installed_table", "extensions_apply", "extensions_check", "extensions_install_url",
                    "extensions_install_branch", "extensions_install_dirname", "extensions_install_button",
                    "extensions_index_url", "extensions_load_available", "extensions_available_install"):
        assert elem_id in ids, elem_id


def test_install_button_installs_from_a_file_url_and_shows_failures(tmp_path):
    paths = make_paths(tmp_path)
    good = make_repo(tmp_path / "src", "good-ext",
                     {"install.py": "import launch\nassert launch.is_installed('pytest')\n"})
    bad = make_repo(tmp_path / "src", "bad-ext", {"install.py": "print('about to fail')\nraise SystemExit(2)\n"})
    manager, blocks = build_tab(paths)
    install = handler(blocks, "extensions_install_button")
    text, rows = install(url(good), "", "")
    assert "Installed good-ext" in text and "class='error'" not in text and [r[0] for r in rows] == ["good-ext"]
    text, _ = install(url(good), "", "")
    assert "class='error'" in text and "already installed" in text and "good-ext" in text
    text, _ = install("file:///no/such/repository", "", "")
    assert "class='error'" in text and "git clone file:///no/such/repository failed" in text
    text, rows = install(url(bad), "", "")
    assert "install.py failed (exit code 2)" in text and "about to fail" in text
    assert "install.py of bad-ext failed" in next(r for r in rows if r[0] == "bad-ext")[-1]
    text, _ = install(url(good), "", "other name")
    assert "Installed other name" in text


def test_apply_saves_the_enabled_column_and_says_a_restart_is_needed(tmp_path):
    paths = make_paths(tmp_path)
    make_ext(paths.extensions_dir, "one")
    make_ext(paths.extensions_dir, "two")
    manager, blocks = build_tab(paths)
    rows = extensions_tab.installed_rows(manager)
    rows[1][extensions_tab.ENABLED_COL] = False
    text, new_rows = handler(blocks, "extensions_apply")(rows + [["", "", "", "", "", "", False, ""]], "extra")
    assert "Disabled: two." in text and "Restart Easel" in text
    stored = json.loads(paths.config_json.read_text())
    assert stored["disabled_extensions"] == ["two"] and stored["disable_all_extensions"] == "extra"
    assert [r[extensions_tab.ENABLED_COL] for r in new_rows] == [True, False]


def test_check_and_update_buttons_report_per_extension(tmp_path):
    paths = make_paths(tmp_path)
    repo = make_repo(tmp_path / "src", "upd", {"a.txt": "1"})
    git(paths.extensions_dir, "clone", "-q", url(repo), "upd")
    manager, blocks = build_tab(paths)
    commit(repo, {"a.txt": "2"})
    text, rows = handler(blocks, "extensions_check")()
    assert "<b>upd</b>: behind origin/main by 1 commit" in text and "behind" in rows[0][5]
    text, rows = handler(blocks, "extensions_update")()
    assert "<b>upd</b>: updated to" in text and (paths.extensions_dir / "upd" / "a.txt").read_text() == "2"


def test_available_list_loads_from_an_index_and_offline_says_so(tmp_path):
    paths = make_paths(tmp_path)
    repo = make_repo(tmp_path / "src", "from-index", {"a.txt": "x"})
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"extensions": [{"name": "From index", "url": url(repo), "description": "<b>d</b>",
                                                 "tags": ["script"]}]}))
    manager, blocks = build_tab(paths)
    note, listing, choice = handler(blocks, "extensions_load_available")(index.as_uri())
    assert "1 extensions listed, 1 not installed" in note and "&lt;b&gt;d&lt;/b&gt;" in listing
    assert choice.choices == [(f"From index ({url(repo)})", url(repo))]
    text, rows = handler(blocks, "extensions_available_install")(url(repo))
    assert "Installed from-index" in text and [r[0] for r in rows] == ["from-index"]
    note, _, _ = handler(blocks, "extensions_load_available")(index.as_uri())
    assert "1 not installed" not in note and "0 not installed" in note
    note, listing, _ = handler(blocks, "extensions_load_available")("http://127.0.0.1:9/index.json")
    assert "class='error'" in note and "offline" in note and listing == ""


def test_installing_is_locked_when_listening_without_the_flag(tmp_path):
    paths = make_paths(tmp_path)
    repo = make_repo(tmp_path / "src", "ext", {"a.txt": "x"})
    manager, blocks = build_tab(paths, "--listen")
    assert component(blocks, "extensions_install_button").interactive is False
    text, _ = handler(blocks, "extensions_install_button")(url(repo), "", "")
    assert "--enable-insecure-extension-access" in text and not (paths.extensions_dir / "ext").exists()


@pytest.fixture
def served(tmp_path):
    """An install folder and data dir with three extensions (one disabled) and the asset routes mounted."""
    paths = make_paths(tmp_path)
    (paths.install_dir / "javascript").mkdir()
    (paths.install_dir / "javascript" / "core.js").write_text("// core")
    (paths.data_dir / "config.json").write_text(json.dumps({"disabled_extensions": ["off"]}))
    make_ext(paths.builtin_extensions_dir, "shipped", {"javascript/b.js": "// shipped", "images/logo.png": "png"})
    make_ext(paths.extensions_dir, "on", {"javascript/a.js": "// on", "style.css": ".on {}", "img/x.svg": "<svg/>",
                                          "localizations/xx_XX.json": '{"Generate": "Xx"}', ".git/config": "secret",
                                          ".env": "secret"})
    make_ext(paths.extensions_dir, "off", {"javascript/off.js": "// off", "img/y.png": "png"})
    (paths.data_dir / "secret.txt").write_text("secret")
    manager = ExtensionManager(paths, make_options(paths), make_flags())
    table = assets.asset_table(paths, extensions=manager)
    server = FastAPI()
    assets.mount(server, table)
    return paths, table, TestClient(server)


def test_assets_of_enabled_extensions_only(served):
    paths, table, client = served
    assert [f.name for f in table.values()] == ["core.js", "b.js", "a.js", "style.css"]
    assert "off.js" not in assets.head_html(table)
    assert client.get(assets.LOCALIZATION_ROUTE + "/xx_XX.json").json() == {"Generate": "Xx"}
    assert client.get(assets.LOCALIZATION_ROUTE + "/nope.json").status_code == 404


def test_file_route_serves_files_under_enabled_extension_folders_only(served):
    paths, _, client = served
    on = paths.extensions_dir / "on"
    assert client.get("/file=extensions/on/img/x.svg").text == "<svg/>"  # A1111's relative form
    assert client.get(f"/file={on / 'img' / 'x.svg'}").text == "<svg/>"  # absolute form
    assert client.get("/file=extensions-builtin/shipped/images/logo.png").text == "png"
    assert client.get("/file=javascript/core.js").text == "// core"
    for refused in ("/file=extensions/off/img/y.png", "/file=extensions/on/.git/config", "/file=extensions/on/.env",
                    "/file=extensions/on/../../secret.txt", "/file=extensions/on/%2E%2E/%2E%2E/secret.txt",
                    f"/file={paths.data_dir / 'secret.txt'}", "/file=config.json", "/file=/etc/passwd",
                    "/file=extensions/on/img", "/file="):
        assert client.get(refused).status_code == 404, refused


def test_file_route_does_not_follow_links_out_of_an_extension(served, tmp_path):
    paths, _, client = served
    (paths.extensions_dir / "on" / "link.txt").symlink_to(paths.data_dir / "secret.txt")
    assert client.get("/file=extensions/on/link.txt").status_code == 404


def test_load_from_fetches_only_the_configured_index_when_exposed(tmp_path):
    """--listen without --enable-insecure-extension-access: "Load from:" refuses a typed URL (a visitor could
    make this machine fetch any address), and loads the one extensions_index_url in config.json names."""
    paths = make_paths(tmp_path)
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"extensions": [{"name": "Listed", "url": "https://example.invalid/listed"}]}))
    other = tmp_path / "other.json"
    other.write_text(index.read_text())
    (paths.data_dir / "config.json").write_text(json.dumps({"extensions_index_url": index.as_uri()}))
    manager, blocks = build_tab(paths, "--listen")
    assert component(blocks, "extensions_index_url").interactive is False
    note, listing, _ = handler(blocks, "extensions_load_available")(other.as_uri())
    assert "class='error'" in note and "--enable-insecure-extension-access" in note and listing == ""
    note, listing, _ = handler(blocks, "extensions_load_available")(index.as_uri())
    assert "1 extensions listed" in note and "Listed" in listing
    manager, blocks = build_tab(paths, "--listen", "--enable-insecure-extension-access")
    note, _, _ = handler(blocks, "extensions_load_available")(other.as_uri())
    assert "1 extensions listed" in note
