"""The Extra Networks browser in the page: A1111's tabs and ids on txt2img and img2img, refresh re-reading the
folders, checkpoint cards switching the model, the /sd_extra_networks routes (confined to the model folders, behind
the page's login), and a page an extension registers through A1111's `ui_extra_networks.register_page`."""
from __future__ import annotations

import textwrap

import pytest
from fastapi.testclient import TestClient

from tests.ui.test_extra_networks_cards import write_safetensors
from tests.pipeline.conftest import make_app

EXTENSION_PAGE = '''
import os
from modules import script_callbacks, ui_extra_networks


class WildcardsPage(ui_extra_networks.ExtraNetworksPage):
    def __init__(self, folder):
        super().__init__("Wildcards")
        self.folder = folder

    def list_items(self):
        for index, name in enumerate(sorted(os.listdir(self.folder))):
            path = os.path.join(self.folder, name)
            stem = os.path.splitext(path)[0]
            yield {"name": os.path.splitext(name)[0], "filename": path, "preview": self.find_preview(stem),
                   "description": self.find_description(stem), "search_terms": [self.search_terms_from_path(path)],
                   "prompt": ui_extra_networks.quote_js("__" + os.path.splitext(name)[0] + "__"),
                   "local_preview": stem + ".png", "sort_keys": {"default": index, **self.get_sort_keys(path)}}

    def allowed_directories_for_previews(self):
        return [self.folder]


class BrokenPage(ui_extra_networks.ExtraNetworksPage):
    def __init__(self):
        super().__init__("Broken Cards")

    def list_items(self):
        raise RuntimeError("no cards today")


script_callbacks.on_before_ui(lambda: ui_extra_networks.register_page(WildcardsPage(FOLDER)))
script_callbacks.on_before_ui(lambda: ui_extra_networks.register_page(BrokenPage()))
'''


def ids_of(blocks) -> set[str]:
    return {b.elem_id for b in blocks.blocks.values() if getattr(b, "elem_id", None)}


def pane(blocks, elem_id: str) -> str:
    return next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == elem_id).value


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_checkpoint):
    from modules.ui.layout import build_ui

    data = tmp_path_factory.mktemp("en-data")
    write_safetensors(data / "models" / "Lora" / "ink.safetensors", {"ss_output_name": "ink", "ss_note": "hi"})
    (data / "models" / "Lora" / "ink.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (data / "models" / "Lora" / "notes.png.txt").write_text("not an image")
    (data / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    app = make_app(data, tiny_checkpoint)
    yield app, build_ui(app)
    app.jobs.close()


def test_tabs_and_ids_beside_generation(built):
    _, blocks = built
    ids = ids_of(blocks)
    for tab in ("txt2img", "img2img"):
        for suffix in ("extra_tabs", "generation_tab", "extra_refresh", "settings_row"):
            assert f"{tab}_{suffix}" in ids, f"{tab}_{suffix}"
        for page in ("textual_inversion", "hypernetworks", "checkpoints", "lora"):
            for elem_id in (f"{tab}_{page}", f"{tab}_{page}_cards_html", f"{tab}_{page}_extra_refresh_internal"):
                assert elem_id in ids, elem_id
    assert "change_checkpoint" in ids
    lora = pane(blocks, "txt2img_lora_cards_html")
    assert 'data-name="ink"' in lora and "cardClicked(&#x27;txt2img&#x27;, &quot;&lt;lora:ink:&quot;" in lora
    assert "ink.png&amp;mtime=" in lora  # the preview beside the file
    checkpoints = pane(blocks, "img2img_checkpoints_cards_html")
    assert "selectCheckpoint(&quot;tiny" in checkpoints


def test_refresh_reads_the_folders_again(built):
    from modules.ui import extra_networks

    app, blocks = built
    write_safetensors(app.paths.lora_dir / "late.safetensors")
    ctx = blocks.easel_context
    titles = [p.title for p in extra_networks.pages(ctx)]
    fresh = dict(zip(titles, extra_networks.refreshed(ctx, "img2img")))
    assert 'data-name="late"' in fresh["Lora"] and "img2img_lora_cards" in fresh["Lora"]
    (app.paths.lora_dir / "late.safetensors").unlink()
    assert 'data-name="late"' not in dict(zip(titles, extra_networks.refreshed(ctx, "img2img")))["Lora"]


def test_checkpoint_card_switches_the_model_setting(built):
    from modules.ui.extra_networks import choose_checkpoint

    app, blocks = built
    title = app.models.list_checkpoints()[0].title
    app.options.set("sd_model_checkpoint", "", save=False)
    update = choose_checkpoint(blocks.easel_context, title)
    assert app.options.get("sd_model_checkpoint") == title and update["value"] == title
    import gradio as gr

    with pytest.raises(gr.Error, match="not found"):
        choose_checkpoint(blocks.easel_context, "no-such-model.safetensors")


@pytest.fixture(scope="module")
def client(built):
    from fastapi import FastAPI

    from modules.ui.layout import mount_extra_networks

    app, blocks = built
    server = FastAPI()
    mount_extra_networks(server, app, blocks.easel_context)
    return app, TestClient(server)


def test_thumb_serves_previews_in_model_folders_only(client):
    app, c = client
    lora = app.paths.lora_dir
    assert c.get("/sd_extra_networks/thumb", params={"filename": str(lora / "ink.png")}).status_code == 200
    for bad in (lora / ".." / ".." / "secret.png", app.paths.data_dir / "secret.png", lora / "ink.safetensors",
                lora / "notes.png.txt", lora / "missing.png", "", "../secret.png"):
        assert c.get("/sd_extra_networks/thumb", params={"filename": str(bad)}).status_code == 404, bad


def test_metadata_and_single_card_routes(client):
    _, c = client
    data = c.get("/sd_extra_networks/metadata", params={"page": "lora", "item": "ink"}).json()
    assert '"ss_note": "hi"' in data["metadata"]
    assert c.get("/sd_extra_networks/metadata", params={"page": "lora", "item": "nope"}).json() == {}
    card = c.get("/sd_extra_networks/get-single-card", params={"page": "lora", "tabname": "img2img", "name": "ink"})
    assert card.status_code == 200 and card.json()["html"].startswith('<div class="card"')
    assert "cardClicked(&#x27;img2img&#x27;" in card.json()["html"]
    assert c.get("/sd_extra_networks/get-single-card",
                 params={"page": "lora", "tabname": "img2img", "name": "nope"}).status_code == 404


def test_routes_follow_the_page_login(tmp_path, tiny_checkpoint):
    import webui

    write_safetensors(tmp_path / "models" / "Lora" / "ink.safetensors")
    (tmp_path / "models" / "Lora" / "ink.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    app = make_app(tmp_path, tiny_checkpoint, "--gradio-auth", "pat:open-sesame")
    try:
        with TestClient(webui.create_server(app), raise_server_exceptions=False) as c:
            params = {"filename": str(tmp_path / "models" / "Lora" / "ink.png")}
            assert c.get("/sd_extra_networks/thumb", params=params).status_code == 401
            assert c.get("/sd_extra_networks/thumb", params=params, auth=("pat", "open-sesame")).status_code == 200
    finally:
        app.jobs.close()


def test_a_page_an_extension_registers_becomes_a_tab(tmp_path, tiny_checkpoint):
    from modules.extensions.compat.reporting import FAILURES
    from modules.ui.layout import build_ui
    from tests.extensions.conftest import start, stop

    words = tmp_path / "wildcards"
    words.mkdir()
    (words / "colors.txt").write_text("red\nblue")
    (words / "colors.preview.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    folder = tmp_path / "data" / "extensions" / "wildcard-cards"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "cards.py").write_text(f"FOLDER = {str(words)!r}\n" + textwrap.dedent(EXTENSION_PAGE))
    app = make_app(tmp_path / "data", tiny_checkpoint)
    try:
        start(app, [("wildcard-cards", folder)])
        blocks = build_ui(app)
        ids = ids_of(blocks)
        assert {"txt2img_wildcards", "img2img_wildcards_cards_html", "txt2img_wildcards_extra_refresh_internal"} <= ids
        html = pane(blocks, "txt2img_wildcards_cards_html")
        assert 'data-name="colors"' in html and "&quot;__colors__&quot;" in html and "colors.preview.png" in html
        assert "id='txt2img_wildcards_cards'" in html and "wildcards/colors.txt" in html
        assert "this page failed" in pane(blocks, "img2img_broken_cards_cards_html")  # the rest of the page stands
        failures = [f for f in FAILURES.failures if f.extension == "wildcard-cards"]
        assert any("no cards today" in f.error and "Broken Cards" in f.hook for f in failures)
    finally:
        from modules.extensions.compat import ui_extra_networks

        ui_extra_networks.initialize()  # the registered pages are process-wide, as A1111's
        stop(app)
        app.jobs.close()
