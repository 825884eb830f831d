"""The Extra Networks browser's cards as data: A1111's markup and click actions, from folders laid out as an A1111
user's (previews, descriptions and user metadata beside the model files). No model and no torch needed."""
from __future__ import annotations

import json
import struct
from pathlib import Path

from modules.ui.extra_networks_cards import (Card, PageView, PaneIds, ViewSettings, card_html, folder_buttons,
                                            lora_aliases, page_html)
from modules.ui.extra_networks_sources import (checkpoint_view, embedding_view, hypernetwork_view, lora_view,
                                               safetensors_metadata)

IDS = PaneIds("txt2img", "lora")


def write_safetensors(path: Path, metadata: dict | None = None) -> Path:
    """A valid safetensors file with one 1-element float32 tensor, written by hand (no torch)."""
    header = {"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0\0\0\0")
    return path


def test_card_has_a1111s_markup_and_escapes_names():
    card = Card('say "hi" <b>', "/m/Lora/x.safetensors", prompt='"<lora:x:" + 1 + ">"', description="<i>d</i>",
                search_terms=("Lora/x.safetensors",), sort_keys=(("default", 3), ("name", "x.safetensors")))
    markup = card_html(IDS, card, ViewSettings())
    assert markup.startswith('<div class="card" style="font-size: 100.0%;" onclick="cardClicked(&#x27;txt2img&#x27;')
    assert 'data-name="say &quot;hi&quot; &lt;b&gt;"' in markup and "<b>" not in markup
    assert 'data-sort-default="3" data-sort-name="x.safetensors"' in markup
    assert "<span class='hidden search_terms'>Lora/x.safetensors</span>" in markup
    assert "<span class=\"description\">&lt;i&gt;d&lt;/i&gt;</span>" in markup
    assert "<span class=\"description\"><i>d</i></span>" in card_html(IDS, card, ViewSettings(description_is_html=True))
    assert '<span class="description"></span>' in card_html(IDS, card, ViewSettings(show_description=False))


def test_cards_in_hidden_folders_follow_the_setting():
    card = Card("old", "/m/Lora/.old/old.pt", prompt='"x"', hidden=True, folder=".old")
    assert 'class="card search_only"' in card_html(IDS, card, ViewSettings(hidden_models="When searched"))
    assert 'class="card"' in card_html(IDS, card, ViewSettings(hidden_models="Always"))
    assert card_html(IDS, card, ViewSettings(hidden_models="Never")) == ""
    page = PageView((card,), ("/m/Lora",))
    assert ">.old/</button>" in page_html(IDS, page, ViewSettings())
    assert ">.old/</button>" not in page_html(IDS, page, ViewSettings(show_hidden_dirs=False))


def test_pane_carries_the_controls_extensions_select_on():
    pane = page_html(IDS, PageView((Card("a", "/m/a.pt", prompt='"a"', folder="sub"),), ("/m",)), ViewSettings())
    for elem_id in ("txt2img_lora_pane", "txt2img_lora_controls", "txt2img_lora_extra_search",
                    "txt2img_lora_extra_sort_path", "txt2img_lora_extra_sort_name", "txt2img_lora_extra_sort_dir",
                    "txt2img_lora_extra_tree_view", "txt2img_lora_extra_refresh", "txt2img_lora_dirs",
                    "txt2img_lora_cards"):
        assert f"id='{elem_id}'" in pane or f'id="{elem_id}"' in pane, elem_id
    assert ">sub/</button>" in pane and "search-all" in pane
    empty = page_html(IDS, PageView((), ("/m/Lora",)), ViewSettings())
    assert "Nothing here" in empty and "<li>/m/Lora</li>" in empty


def test_folder_buttons_list_parents_and_hide_dot_folders_when_asked():
    assert folder_buttons(["a/b/c", ""]) == ["", "a/", "a/b/", "a/b/c/"]
    assert folder_buttons([""]) == []
    assert folder_buttons([".x/y"], show_hidden=False) == []


def test_an_alias_shared_or_naming_another_file_falls_back_to_the_file_name():
    assert lora_aliases([("ink_v2", "ink"), ("pen", "pen_out")]) == {"ink_v2": "ink", "pen": "pen_out"}
    assert lora_aliases([("a", "b"), ("b", "c")]) == {"a": "a", "b": "c"}
    assert lora_aliases([("ink_v2", "ink")], prefer_filename=True) == {"ink_v2": "ink_v2"}


def test_lora_cards_read_a1111s_side_files(tmp_path):
    folder = tmp_path / "Lora"
    write_safetensors(folder / "ink_v2.safetensors", {"ss_output_name": "ink"})
    write_safetensors(folder / "sub" / "pen.safetensors")
    (folder / "ink_v2.preview.png").write_bytes(b"png")
    (folder / "ink_v2.txt").write_text("Inky lines")
    (folder / "sub" / "pen.json").write_text(json.dumps({"preferred weight": 0.6, "activation text": "pen art",
                                                          "negative text": "blurry"}))
    view = lora_view(folder)
    ink, pen = view.cards
    assert ink.name == "ink_v2" and ink.description == "Inky lines" and ink.has_metadata
    assert ink.preview.startswith("./sd_extra_networks/thumb?filename=") and "ink_v2.preview.png" in ink.preview
    assert ink.prompt == '"<lora:ink:" + extraNetworksOpt("extra_networks_default_multiplier", 1) + ">"'
    assert ink.search_terms == ("Lora/ink_v2.safetensors",) and ink.folder == ""
    assert pen.prompt == '"<lora:pen:" + 0.6 + ">" + " pen art"' and pen.negative_prompt == '"(blurry:1)"'
    assert pen.folder == "sub" and not pen.has_metadata and pen.preview is None


def test_safetensors_metadata_is_read_from_the_header_only(tmp_path):
    assert safetensors_metadata(write_safetensors(tmp_path / "a.safetensors", {"k": "v"})) == {"k": "v"}
    (tmp_path / "broken.safetensors").write_bytes(b"\xff" * 12)
    assert safetensors_metadata(tmp_path / "broken.safetensors") == {}
    assert safetensors_metadata(tmp_path / "missing.safetensors") == {}


def test_embedding_cards_go_to_the_last_prompt_box_and_checkpoint_cards_switch_the_model(tmp_path):
    (tmp_path / "emb").mkdir()
    (tmp_path / "emb" / "bad-hands.pt").write_bytes(b"x")
    view = embedding_view([tmp_path / "emb"])
    assert view.allow_negative and view.cards[0].prompt == '"bad-hands"'
    assert "cardClicked('img2img', \"bad-hands\", '', true);" in \
        card_html(PaneIds("img2img", "textual_inversion"), view.cards[0], ViewSettings(), True).replace("&quot;", '"') \
        .replace("&#x27;", "'")

    class Info:
        path, title, model_name, sha256 = tmp_path / "sd" / "m.safetensors", "m.safetensors [0123456789]", "m", None

    card = checkpoint_view([Info()], [tmp_path / "sd"]).cards[0]
    assert card.name == "m" and card.onclick == 'return selectCheckpoint("m.safetensors [0123456789]")'


def test_hypernetworks_say_they_are_not_run():
    pane = page_html(PaneIds("txt2img", "hypernetworks"), hypernetwork_view(Path("/m/hypernetworks")),
                     ViewSettings())
    assert "does not run hypernetworks" in pane and 'class="card' not in pane
