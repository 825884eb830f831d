"""The Extra Networks browser in the browser: a LoRA dropped into models/Lora shows up after the Lora tab's refresh,
clicking its card adds `<lora:name:1>` to the prompt (a second click takes it out), and the generation uses it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import small_txt2img, wait_for_infotext

TE_LAYER = "encoder.layers.0.self_attn.q_proj"


def write_tiny_lora(checkpoint: Path, target: Path) -> None:
    """A kohya LoRA on one text-encoder layer of the tiny checkpoint (shapes read from its header)."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(checkpoint), framework="np") as f:
        names = list(f.keys())  # a safetensors file's tensor names (not a dict)
        key = next(k for k in names if k.endswith(f"text_model.{TE_LAYER}.weight"))
        out_ch, in_ch = f.get_slice(key).get_shape()
    rng = np.random.default_rng(0)
    prefix = "lora_te_text_model_" + TE_LAYER.replace(".", "_")
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file({f"{prefix}.lora_down.weight": (rng.standard_normal((2, in_ch)) * 0.3).astype(np.float32),
               f"{prefix}.lora_up.weight": (rng.standard_normal((out_ch, 2)) * 0.3).astype(np.float32),
               f"{prefix}.alpha": np.array(1.0, dtype=np.float32)}, str(target))


def prompt_value(page) -> str:
    return page.locator("#txt2img_prompt textarea").input_value()


def extra_tab(page, label: str) -> None:
    page.locator("#txt2img_extra_tabs button[role=tab]", has_text=label).first.click()


def test_lora_card_click_adds_the_tag_and_generation_uses_it(page, server):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    checkpoint = next((server.data_dir / "models" / "Stable-diffusion").glob("*.safetensors"))
    write_tiny_lora(checkpoint, server.data_dir / "models" / "Lora" / "e2e_ink.safetensors")
    small_txt2img(page, "a fox", seed=4321, steps=2)
    extra_tab(page, "Lora")
    page.locator("#txt2img_lora_extra_refresh").click()  # the file came after the page was built
    card = page.locator("#txt2img_lora_cards .card[data-name='e2e_ink']")
    card.wait_for(timeout=30_000)
    card.click()
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value == 'a fox <lora:e2e_ink:1>'")
    card.click()  # a second click takes it out again
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value == 'a fox'")
    page.evaluate("() => { opts.extra_networks_default_multiplier = 0.7; }")  # the setting, read at the click
    card.click()
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value == "
                           "'a fox <lora:e2e_ink:0.7>'")
    screenshot(page, "extra_networks_lora")
    extra_tab(page, "Generation")
    page.locator("#txt2img_generate").click()
    text = wait_for_infotext(page, "html_info_txt2img", "Seed: 4321")
    assert "a fox <lora:e2e_ink:0.7>" in text and "Lora hashes: \"e2e_ink:" in text
    page.locator("#txt2img_extra_tabs button[role=tab]", has_text="Lora").first.click()
    page.locator("#txt2img_lora_extra_search").fill("no-such-lora")
    page.wait_for_function("() => document.querySelector(\"#txt2img_lora_cards .card[data-name='e2e_ink']\")"
                           ".classList.contains('hidden')")
    assert errors == []


def test_embedding_goes_to_the_last_prompt_box_and_checkpoint_card_switches(page, server):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    (server.data_dir / "embeddings").mkdir(exist_ok=True)
    (server.data_dir / "embeddings" / "e2e-bad-hands.pt").write_bytes(b"not read by the browser")
    page.locator("#txt2img_neg_prompt textarea").fill("ugly")
    page.locator("#txt2img_neg_prompt textarea").focus()  # the box used last takes the embedding
    extra_tab(page, "Textual Inversion")
    page.locator("#txt2img_textual_inversion_extra_refresh").click()
    card = page.locator("#txt2img_textual_inversion_cards .card[data-name='e2e-bad-hands']")
    card.click()
    page.wait_for_function("() => document.querySelector('#txt2img_neg_prompt textarea').value == "
                           "'ugly e2e-bad-hands'")
    extra_tab(page, "Checkpoints")
    page.evaluate("() => { window.easelSeen = []; document.addEventListener('click', (e) => { "
                  "if (e.target.closest && e.target.closest('#change_checkpoint')) "
                  "easelSeen.push(desiredCheckpointName); }, true); }")
    page.locator("#txt2img_checkpoints_cards .card").first.click()
    page.wait_for_function("() => easelSeen.length == 1 && desiredCheckpointName === null")  # the handler took it
    chosen = page.evaluate("() => easelSeen[0]")
    assert chosen.startswith("tiny")
    page.wait_for_function("(t) => fetch('./sdapi/v1/options').then((r) => r.json())"
                           ".then((o) => o.sd_model_checkpoint == t)", arg=chosen)
    assert errors == []


GLOBALS = ("cardClicked", "selectCheckpoint", "updatePromptArea", "tryToRemoveExtraNetworkFromPrompt",
           "extraNetworksRefreshSingleCard", "requestGet", "applyExtraNetworkFilter", "applyExtraNetworkSort",
           "extraNetworksSearchButton", "extraNetworksControlSortOnClick", "extraNetworksControlSortDirOnClick",
           "extraNetworksControlTreeViewOnClick", "extraNetworksControlRefreshOnClick", "extraNetworksCopyCardPath",
           "extraNetworksRequestMetadata", "extraNetworksShowMetadata")


def card_names(page) -> list[str]:
    return page.evaluate("() => Array.from(document.querySelectorAll('#img2img_lora_cards > .card'))"
                         ".map((c) => c.dataset.name).filter((n) => n.startsWith('e2e_sort'))")


def test_globals_sorting_folders_and_a_single_card_refresh(page, server):
    from tests.ui.test_extra_networks_cards import write_safetensors

    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    assert page.evaluate("(names) => names.filter((n) => typeof window[n] !== 'function')", list(GLOBALS)) == []
    lora = server.data_dir / "models" / "Lora"
    write_safetensors(lora / "deeper" / "e2e_sort_b.safetensors", {"ss_note": "bee"})
    write_safetensors(lora / "e2e_sort_a.safetensors")
    page.locator("#tabs button[role=tab]", has_text="img2img").first.click()
    page.locator("#img2img_extra_tabs button[role=tab]", has_text="Lora").first.click()
    page.locator("#img2img_lora_extra_refresh").click()
    page.locator("#img2img_lora_cards .card[data-name='e2e_sort_a']").wait_for()
    assert card_names(page) == ["e2e_sort_b", "e2e_sort_a"]  # by path: Lora/deeper/… comes before Lora/e2e…
    page.locator("#img2img_lora_extra_sort_name").click()
    page.wait_for_function("() => document.querySelector('#img2img_lora_cards > .card[data-name^=e2e_sort]')"
                           ".dataset.name == 'e2e_sort_a'")
    page.locator("#img2img_lora_extra_sort_dir").click()
    page.wait_for_function("() => { const n = Array.from(document.querySelectorAll('#img2img_lora_cards > .card'))"
                           ".map((c) => c.dataset.name).filter((n) => n.startsWith('e2e_sort')); "
                           "return n.join() == 'e2e_sort_b,e2e_sort_a'; }")
    page.locator("#img2img_lora_dirs button", has_text="deeper/").click()  # the folder's button searches it
    page.wait_for_function("() => document.querySelector(\"#img2img_lora_cards .card[data-name='e2e_sort_a']\")"
                           ".classList.contains('hidden')")
    assert page.locator("#img2img_lora_extra_search").input_value() == "deeper/"
    page.locator("#img2img_lora_dirs button", has_text="all").click()
    (lora / "deeper" / "e2e_sort_b.txt").write_text("A bee, described later")
    page.evaluate("() => extraNetworksRefreshSingleCard('lora', 'img2img', 'e2e_sort_b')")
    page.wait_for_function("() => document.querySelector(\"#img2img_lora_cards .card[data-name='e2e_sort_b'] "
                           ".description\").textContent == 'A bee, described later'")
    page.locator("#img2img_lora_cards .card[data-name='e2e_sort_b']").hover()
    page.locator("#img2img_lora_cards .card[data-name='e2e_sort_b'] .metadata-button").click()
    page.wait_for_function("() => (document.querySelector('.global-popup .popup-metadata') || {}).textContent"
                           "?.includes('bee')")
    page.keyboard.press("Escape")
    assert page.locator("#img2img_prompt textarea").input_value() == ""  # the buttons do not click the card
    assert errors == []
