import json

import pytest

from modules.errors import InvalidInput
from modules.options import Options


def test_defaults_and_persistence(tmp_path):
    path = tmp_path / "config.json"
    opts = Options(path)
    assert opts.get("sd_vae") == "Automatic"
    assert opts.set("CLIP_stop_at_last_layers", 2)
    assert json.loads(path.read_text())["CLIP_stop_at_last_layers"] == 2
    assert Options(path).get("CLIP_stop_at_last_layers") == 2


def test_bad_value_changes_nothing(tmp_path):
    opts = Options(tmp_path / "config.json")
    with pytest.raises(InvalidInput, match="randn_source.*valid: GPU, CPU"):
        opts.update({"CLIP_stop_at_last_layers": 3, "randn_source": "NV"})
    assert opts.get("CLIP_stop_at_last_layers") == 1
    assert not (tmp_path / "config.json").exists()
    with pytest.raises(InvalidInput, match="expected int"):
        opts.set("CLIP_stop_at_last_layers", "2")
    with pytest.raises(InvalidInput, match="above 12"):
        opts.set("CLIP_stop_at_last_layers", 13)


def test_snapshot_overrides_are_per_job(tmp_path):
    opts = Options(tmp_path / "config.json")
    snap = opts.snapshot({"CLIP_stop_at_last_layers": 2})
    assert snap.CLIP_stop_at_last_layers == 2
    assert opts.get("CLIP_stop_at_last_layers") == 1
    with pytest.raises(InvalidInput, match="override_settings.nope"):
        opts.snapshot({"nope": 1})
    with pytest.raises(TypeError):
        snap._values["x"] = 1


def test_unknown_keys_in_file_are_kept_and_bad_values_fall_back(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"extension_thing": 5, "randn_source": "bogus"}))
    opts = Options(path)
    assert opts.data()["extension_thing"] == 5
    assert opts.get("randn_source") == "GPU"


def test_onchange_listener(tmp_path):
    opts = Options(None)
    seen = []
    opts.onchange("sd_vae", lambda: seen.append(opts.get("sd_vae")))
    opts.set("sd_vae", "None")
    opts.set("sd_vae", "None")
    assert seen == ["None"]


def test_a_failed_write_changes_nothing_and_the_retry_saves(tmp_path):
    """A change is kept in memory only once config.json holds it: otherwise the same change sent again finds nothing
    changed and is never written (seen as the Extensions tab saying 'Disabled: …' with no such key on disk)."""
    blocker = tmp_path / "data"
    blocker.write_text("a file where the settings folder should be")
    opts = Options(blocker / "config.json")
    with pytest.raises(OSError):
        opts.set("disabled_extensions", ("e2e-ext",))
    assert opts.get("disabled_extensions") == ()
    blocker.unlink()
    assert opts.set("disabled_extensions", ("e2e-ext",))
    assert json.loads((blocker / "config.json").read_text())["disabled_extensions"] == ["e2e-ext"]
