"""`file=tmp/<name>`: A1111 extensions write files for their own scripts into `tmp` of the web UI's root
(modules.paths.script_path; a1111-sd-webui-tagcomplete writes tmp/tagAutocompletePath.txt there and its script
fetches `file=tmp/tagAutocompletePath.txt`). Those are served, from the install folder's and the data dir's `tmp`;
nothing else of either folder is."""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from modules.paths import Paths
from modules.ui import assets


def test_tmp_files_are_served_and_nothing_beside_them(tmp_path):
    install, data = tmp_path / "install", tmp_path / "data"
    (install / "tmp").mkdir(parents=True)
    (install / "tmp" / "tagAutocompletePath.txt").write_text("extensions/tagcomplete/tags")
    (install / "webui.py").write_text("# not to be served")
    (data / "tmp").mkdir(parents=True)
    (data / "tmp" / "list.txt").write_text("a,b")
    (data / "config.json").write_text("{}")
    (install / "tmp" / ".hidden").write_text("secret")
    server = FastAPI()
    assets.mount(server, assets.asset_table(Paths(data_dir=data, install_dir=install)))
    client = TestClient(server)
    assert client.get("/file=tmp/tagAutocompletePath.txt").text == "extensions/tagcomplete/tags"
    assert client.get("/file=tmp/list.txt").text == "a,b"
    assert client.get(f"/file={install / 'tmp' / 'tagAutocompletePath.txt'}").status_code == 200
    for refused in ("webui.py", "config.json", "tmp/../webui.py", "tmp/%2E%2E/config.json", "tmp/.hidden",
                    f"{data / 'config.json'}"):
        assert client.get("/file=" + refused).status_code == 404, refused


def test_gradio_allowed_path_adds_a_served_folder(tmp_path):
    """A1111's --gradio-allowed-path: files under the folders it names are served too, and nothing beside them."""
    install, data, shared = tmp_path / "install", tmp_path / "data", tmp_path / "shared"
    (install / "tmp").mkdir(parents=True)
    shared.mkdir()
    (shared / "wildcards.txt").write_text("red\nblue")
    (tmp_path / "secret.txt").write_text("no")
    server = FastAPI()
    assets.mount(server, assets.asset_table(Paths(data_dir=data, install_dir=install), allowed=[str(shared)]))
    client = TestClient(server)
    assert client.get(f"/file={shared / 'wildcards.txt'}").text == "red\nblue"
    assert client.get(f"/file={tmp_path / 'secret.txt'}").status_code == 404
    assert client.get(f"/file={shared / '..' / 'secret.txt'}").status_code == 404
