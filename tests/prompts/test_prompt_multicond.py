"""AND (composable diffusion) splitting and extra-network tags."""
from __future__ import annotations

from modules.prompts import get_multicond_prompt_list, parse_extra_networks, parse_extra_networks_batch


def test_and_with_weights():
    indexes, flat, positions = get_multicond_prompt_list(["a cat :1.2 AND a dog AND a penguin :2.2"])
    assert indexes == [[(0, 1.2), (1, 1.0), (2, 2.2)]]
    assert flat == ["a cat", " a dog", " a penguin"]
    assert positions == {"a cat": 0, " a dog": 1, " a penguin": 2}


def test_shared_parts_are_listed_once():
    indexes, flat, _ = get_multicond_prompt_list(["x AND y", "x", "x AND y:0.5"])
    assert flat == ["x", " y"]
    assert indexes == [[(0, 1.0), (1, 1.0)], [(0, 1.0)], [(0, 1.0), (1, 0.5)]]


def test_only_the_upper_case_word_splits():
    assert get_multicond_prompt_list(["black and white, ANDROID, SAND"])[1] == ["black and white, ANDROID, SAND"]
    assert get_multicond_prompt_list(["a AND"])[1] == ["a", ""]


def test_weights_need_a_number_at_the_end():
    assert get_multicond_prompt_list(["ratio 16:9 photo"])[0] == [[(0, 1.0)]]
    assert get_multicond_prompt_list(["time 12:30"])[0] == [[(0, 30.0)]]  # A1111 reads it as a weight too
    assert get_multicond_prompt_list(["(word:1.3)"])[1] == ["(word:1.3)"]
    assert get_multicond_prompt_list(["a:-1"])[0] == [[(0, -1.0)]]


def test_extra_network_tags():
    text, nets = parse_extra_networks("<lora:add_detail:0.5>portrait, <hypernet:anime:1> <lora:b:te=0.3:unet=0.9:0.1>")
    assert text == "portrait,  "
    assert [p.positional for p in nets["lora"]] == [("add_detail", "0.5"), ("b", "0.1")]
    assert nets["lora"][1].named == {"te": "0.3", "unet": "0.9"}
    assert nets["hypernet"][0].items == ("anime", "1")
    texts, first = parse_extra_networks_batch(["<lora:a:1> x", "<lora:b:1> y", "z"])
    assert texts == [" x", " y", "z"] and [p.items for p in first["lora"]] == [("a", "1")]
    assert parse_extra_networks_batch([]) == ([], {})
