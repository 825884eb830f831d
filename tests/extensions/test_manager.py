"""ExtensionManager: discovery, load order from metadata.ini, enable/disable, problems, updates, the index."""
from __future__ import annotations

import json

import pytest

from modules.errors import EaselError
from modules.extensions.manager import ExtensionManager
from tests.extensions import commit, git, make_ext, make_flags, make_options, make_paths, make_repo, url


def manager_for(paths, *flags):
    return ExtensionManager(paths, make_options(paths), make_flags(*flags))


def names(exts):
    return [e.name for e in exts]


def meta(text: str) -> dict[str, str]:
    return {"metadata.ini": "[Extension]\n" + text}


def test_discovery_order_fields_and_scripts(tmp_path):
    paths = make_paths(tmp_path)
    make_ext(paths.builtin_extensions_dir, "zz-builtin")
    make_ext(paths.extensions_dir, "b-ext", {"scripts/second.py": "", "scripts/first.py": "", "scripts/notes.txt": ""})
    make_ext(paths.extensions_dir, "a-ext")
    (paths.extensions_dir / ".easel-tmp").mkdir()
    (paths.extensions_dir / "a-file.txt").write_text("not a folder")
    manager = manager_for(paths)
    assert names(manager.all()) == ["zz-builtin", "a-ext", "b-ext"]  # built-in first, then alphabetical
    assert names(manager.enabled()) == ["zz-builtin", "a-ext", "b-ext"]
    builtin, _, b = manager.all()
    assert builtin.is_builtin and not b.is_builtin and b.enabled and b.problem is None
    assert b.scripts_dir == paths.extensions_dir / "b-ext" / "scripts"
    assert [p.name for p in b.script_files] == ["first.py", "second.py"]
    assert b.remote is None and b.commit_hash is None and b.api_dict()["enabled"] is True


def test_git_information_of_a_cloned_extension(tmp_path):
    repo = make_repo(tmp_path / "src", "my-ext", {"README.md": "x"}, branch="trunk")
    paths = make_paths(tmp_path)
    git(paths.extensions_dir, "clone", "-q", url(repo), "my-ext")
    ext = manager_for(paths).get("my-ext")
    head = git(repo, "rev-parse", "HEAD")
    assert (ext.remote, ext.branch, ext.commit_hash, ext.version) == (url(repo), "trunk", head, head[:8])
    assert ext.commit_date == int(git(repo, "log", "-1", "--format=%ct"))
    assert ext.api_dict() == {"name": "my-ext", "remote": url(repo), "branch": "trunk", "commit_hash": head,
                              "version": head[:8], "commit_date": ext.commit_date, "enabled": True}


def test_metadata_after_before_requires_reorder_stably(tmp_path):
    paths = make_paths(tmp_path)
    make_ext(paths.builtin_extensions_dir, "builtin-late", meta("After = c-ext"))
    make_ext(paths.extensions_dir, "a-ext", meta("Requires = c-ext"))
    make_ext(paths.extensions_dir, "b-ext")
    make_ext(paths.extensions_dir, "c-ext")
    make_ext(paths.extensions_dir, "d-ext", meta("Before = b-ext"))
    make_ext(paths.extensions_dir, "e-ext", meta("Name = Canonical-E\nAfter = unknown-ext"))
    manager = manager_for(paths)
    assert names(manager.enabled()) == ["c-ext", "builtin-late", "a-ext", "d-ext", "b-ext", "e-ext"]
    assert all(e.problem is None for e in manager.all())
    assert manager.get("e-ext").canonical_name == "canonical-e"


def test_missing_or_disabled_requirement_leaves_only_that_extension_out(tmp_path):
    paths = make_paths(tmp_path)
    make_ext(paths.extensions_dir, "needs-missing", meta("Requires = not-there"))
    make_ext(paths.extensions_dir, "needs-needs-missing", meta("Requires = needs-missing"))
    make_ext(paths.extensions_dir, "needs-off", meta("Requires = off-ext"))
    make_ext(paths.extensions_dir, "needs-either", meta("Requires = not-there|plain"))
    make_ext(paths.extensions_dir, "off-ext")
    make_ext(paths.extensions_dir, "plain")
    make_options(paths).set("disabled_extensions", ["off-ext"])
    manager = manager_for(paths)
    assert names(manager.enabled()) == ["plain", "needs-either"]
    assert "requires 'not-there', which is not installed" in manager.get("needs-missing").problem
    assert "which cannot be loaded" in manager.get("needs-needs-missing").problem
    assert "requires 'off-ext', which is disabled" in manager.get("needs-off").problem
    assert manager.get("off-ext").problem is None and not manager.get("off-ext").enabled


def test_cycles_are_reported_and_still_load(tmp_path):
    paths = make_paths(tmp_path)
    make_ext(paths.extensions_dir, "a-ext", meta("After = b-ext"))
    make_ext(paths.extensions_dir, "b-ext", meta("After = a-ext"))
    make_ext(paths.extensions_dir, "c-ext", meta("After = a-ext"))
    make_ext(paths.extensions_dir, "d-ext")
    manager = manager_for(paths)
    assert names(manager.enabled()) == ["d-ext", "a-ext", "b-ext", "c-ext"]
    for name in ("a-ext", "b-ext"):
        assert "cycle among a-ext, b-ext" in manager.get(name).problem
    assert manager.get("c-ext").problem is None and manager.get("d-ext").problem is None


def test_unreadable_metadata_and_duplicate_names_are_reported(tmp_path):
    paths = make_paths(tmp_path)
    make_ext(paths.builtin_extensions_dir, "same")
    make_ext(paths.extensions_dir, "Same")
    make_ext(paths.extensions_dir, "broken", {"metadata.ini": "no section header"})
    manager = manager_for(paths)
    assert names(manager.enabled()) == ["same", "broken"]
    assert "metadata.ini" in manager.get("broken").problem
    assert "duplicate name 'same'" in manager.get("Same").problem


def test_disabled_list_and_modes(tmp_path):
    paths = make_paths(tmp_path)
    make_ext(paths.builtin_extensions_dir, "builtin")
    make_ext(paths.extensions_dir, "one")
    make_ext(paths.extensions_dir, "two")
    manager = manager_for(paths)
    assert manager.set_disabled(["two"]) == ["two"]
    assert json.loads(paths.config_json.read_text())["disabled_extensions"] == ["two"]
    assert names(manager.enabled()) == ["builtin", "one", "two"]  # what loaded stays until the next start
    assert names(manager_for(paths).enabled()) == ["builtin", "one"]
    assert names(manager_for(paths, "--disable-extra-extensions").enabled()) == ["builtin"]
    assert names(manager_for(paths, "--disable-all-extensions").enabled()) == []
    manager.set_mode("extra")
    assert names(manager_for(paths).enabled()) == ["builtin"]
    manager.set_mode("all")
    assert names(manager_for(paths).enabled()) == []
    assert [e.enabled for e in manager_for(paths).all()] == [True, True, False]


def test_report_problem_is_kept_once_and_survives_a_refresh(tmp_path, caplog):
    paths = make_paths(tmp_path)
    make_ext(paths.extensions_dir, "ext")
    manager = manager_for(paths)
    manager.report_problem("ext", "scripts/x.py: SyntaxError: invalid syntax (line 3)")
    manager.report_problem("ext", "scripts/x.py: SyntaxError: invalid syntax (line 3)")
    manager.refresh()
    assert manager.get("ext").problem == "scripts/x.py: SyntaxError: invalid syntax (line 3)"
    assert "extension ext: scripts/x.py: SyntaxError" in caplog.text
    manager.report_problem("unknown", "recorded anyway")  # no crash for a name the loader made up


def test_check_for_updates_and_update(tmp_path):
    repo = make_repo(tmp_path / "src", "upd-ext", {"scripts/a.py": "A = 1\n"})
    paths = make_paths(tmp_path)
    git(paths.extensions_dir, "clone", "-q", url(repo), "upd-ext")
    make_ext(paths.extensions_dir, "plain-folder")
    manager = manager_for(paths)
    status = {o.name: o for o in manager.check_updates()}
    assert status["upd-ext"].ok and not status["upd-ext"].can_update and status["upd-ext"].message == "latest"
    assert status["plain-folder"].message == "not a git repository"
    new_head = commit(repo, {"scripts/a.py": "A = 2\n"})
    [behind] = manager.check_updates(["upd-ext"])
    assert behind.can_update and "behind origin/main by 1 commit" in behind.message
    assert manager.get("upd-ext").update_status == behind.message
    [done] = manager.update()
    assert done.ok and new_head[:8] in done.message and "restart" in done.message
    assert (paths.extensions_dir / "upd-ext" / "scripts" / "a.py").read_text() == "A = 2\n"
    assert manager.get("upd-ext").commit_hash == new_head
    with pytest.raises(EaselError, match="no extension named 'nope'"):
        manager.check_updates(["nope"])


def test_update_that_cannot_fast_forward_is_reported(tmp_path):
    repo = make_repo(tmp_path / "src", "div-ext", {"a.txt": "1"})
    paths = make_paths(tmp_path)
    git(paths.extensions_dir, "clone", "-q", url(repo), "div-ext")
    commit(repo, {"a.txt": "upstream"})
    commit(paths.extensions_dir / "div-ext", {"a.txt": "local"})
    manager = manager_for(paths)
    [outcome] = manager.update(["div-ext"])
    assert not outcome.ok and "git pull in div-ext failed" in outcome.message


def test_available_list_from_a_file_index(tmp_path):
    repo = make_repo(tmp_path / "src", "listed-ext", {"README.md": "x"})
    paths = make_paths(tmp_path)
    git(paths.extensions_dir, "clone", "-q", url(repo), "listed-ext")
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"tags": {}, "extensions": [
        {"name": "Listed", "url": url(repo) + ".git", "description": "installed one", "tags": ["script"]},
        {"name": "Other", "url": "https://github.com/someone/other-ext", "description": "d", "stars": 5}]}))
    manager = manager_for(paths)
    rows = manager.available(index.as_uri())
    assert [(e.name, installed) for e, installed in rows] == [("Listed", True), ("Other", False)]
    assert rows[1][0].stars == 5 and rows[0][0].tags == ("script",)
    assert manager.index_url().startswith("https://raw.githubusercontent.com/AUTOMATIC1111/")


def test_index_offline_missing_or_malformed_gives_a_clear_message(tmp_path):
    manager = manager_for(make_paths(tmp_path))
    with pytest.raises(EaselError, match="could not load the extension index .* may be offline"):
        manager.available("http://127.0.0.1:9/index.json")  # nothing listens on the discard port
    with pytest.raises(EaselError, match="could not load the extension index"):
        manager.available((tmp_path / "missing.json").as_uri())
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(EaselError, match="not valid JSON"):
        manager.available(bad.as_uri())
    with pytest.raises(EaselError, match="must be http"):
        manager.available("ftp://example.invalid/index.json")
