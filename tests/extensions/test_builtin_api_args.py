"""Each built-in script driven as A1111 1.10.1's API clients drive it: `script_name` + `script_args` in A1111's
layout on /sdapi/v1/txt2img or img2img (tiny model); bad arguments answer 422 naming the argument; and
docs/scripts.md's tables agree with what the scripts lay out (/sdapi/v1/script-info)."""
from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import make_client
from tests.extensions.test_builtin_xyz import A1111_IMG2IMG, A1111_TXT2IMG

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scripts.md"
BASE = {"prompt": "a red cube", "steps": 2, "width": 64, "height": 64, "seed": 5, "sampler_name": "Euler"}
INIT = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
CLIP_SKIP = {"txt2img": A1111_TXT2IMG.index("Clip skip"), "img2img": A1111_IMG2IMG.index("Clip skip")}


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


IMG2IMG = {**BASE, "init_images": [b64(INIT)], "denoising_strength": 0.5}


def decode(data: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    image.load()
    return image


def xyz(x_type, x_values, y_type=0, y_values="", *, lone=True, vary=(False, False, False), margin=0) -> list:
    """A1111 1.10.1's 18 X/Y/Z plot arguments."""
    return [x_type, x_values, [], y_type, y_values, [], 0, "", [], True, lone, False, False, *vary, margin, False]


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_checkpoint):
    with make_client(tmp_path_factory.mktemp("api-args"), tiny_checkpoint) as c:
        yield c


def post(client, kind: str, script: str, args: list, **fields):
    body = {**(IMG2IMG if kind == "img2img" else BASE), **fields, "script_name": script, "script_args": args}
    return client.post(f"/sdapi/v1/{kind}", json=body)


def generated(response) -> tuple[list[Image.Image], dict]:
    assert response.status_code == 200, response.text
    body = response.json()
    return [decode(b) for b in body["images"]], json.loads(body["info"])


def refused(response, field: str, *fragments: str) -> None:
    """422 whose message names `field` (e.g. `script_args[2] (Select prompt)`) and says the fragments."""
    assert response.status_code == 422, response.text
    message = response.json()["errors"]
    assert message.startswith(field + ":"), message
    for fragment in fragments:
        assert fragment in message, message


# ---- X/Y/Z plot

@pytest.mark.parametrize("kind", ["txt2img", "img2img"])
def test_xyz_clip_skip_by_a1111_index_with_a1111s_18_args(client, kind):
    images, info = generated(post(client, kind, "X/Y/Z plot", xyz(CLIP_SKIP[kind], "1, 2")))
    grid, cells = images[0], images[1:]
    assert len(cells) == 2 and grid.width >= 2 * 64
    assert "X Type: Clip skip" in info["infotexts"][0] and 'X Values: "1, 2"' in info["infotexts"][0]
    assert "Clip skip" not in info["infotexts"][1] and "Clip skip: 2" in info["infotexts"][2]


def test_xyz_a1111_defaults_return_the_grid_alone_and_vary_seeds_moves_seeds(client):
    images, info = generated(post(client, "txt2img", "X/Y/Z plot", xyz(4, "1, 2", lone=False)))
    assert len(images) == 1, "A1111's default: no sub-images"
    _, info = generated(post(client, "txt2img", "X/Y/Z plot", xyz(4, "1, 2", 6, "5, 7", vary=(True, True, False))))
    assert info["all_seeds"] == [5, 6, 7, 8]
    _, info = generated(post(client, "txt2img", "X/Y/Z plot", xyz(4, "1, 2", 6, "5, 7", vary=(False, True, False))))
    assert info["all_seeds"] == [5, 5, 6, 6]


def test_xyz_easel_only_raw_lines_is_the_19th_argument(client):
    _, info = generated(post(client, "txt2img", "X/Y/Z plot", [*xyz(7, "red\nblue, green"), True]))
    assert info["all_prompts"] == ["a red cube", "a blue, green cube"]


def test_xyz_refuses_what_it_cannot_do_naming_the_argument(client):
    past = 1000  # beyond A1111's axes, ControlNet's and Easel's own
    refused(post(client, "txt2img", "X/Y/Z plot", xyz(past, "1")), "script_args[0] (X type)",
            f"axis index {past} is out of range 0 to ", "24: Clip skip")
    refused(post(client, "txt2img", "X/Y/Z plot", xyz(4, 20)), "script_args[1] (X values)", "a string")
    refused(post(client, "txt2img", "X/Y/Z plot", [4, "", "Euler"]), "script_args[2] (X values)", "a list of strings")
    refused(post(client, "txt2img", "X/Y/Z plot", xyz(4, "1", margin="wide")), "script_args[16] (Grid margins (px))",
            "0 to 500")
    refused(post(client, "txt2img", "X/Y/Z plot", [*xyz(4, "1"), False, "extra"]), "script_args",
            "20 values for X/Y/Z plot, which takes 19")


# ---- Prompt matrix, Prompts from file or textbox

def test_prompt_matrix(client):
    images, info = generated(post(client, "txt2img", "Prompt matrix", [False, True, "positive", "comma", 0],
                                  prompt="a cube|red"))
    assert info["all_prompts"] == ["a cube", "a cube, red"] and info["all_seeds"] == [5, 6] and len(images) == 3
    refused(post(client, "txt2img", "Prompt matrix", [False, False, "both"], prompt="a|b"),
            "script_args[2] (Select prompt)", "'both' is not a choice", "positive, negative")


def test_prompts_from_textbox(client):
    _, info = generated(post(client, "txt2img", "Prompts from file or textbox",
                             [False, False, "end", "a cube\n--prompt a ball --steps 1"], prompt="studio"))
    assert info["all_prompts"] == ["studio a cube", "studio a ball"]
    refused(post(client, "txt2img", "Prompts from file or textbox", [False, False, "middle", "x"]),
            "script_args[2] (Insert prompts at the)", "start, end")
    refused(post(client, "txt2img", "Prompts from file or textbox", [False, False, "start", ["x"]]),
            "script_args[3] (List of prompt inputs)", "a string")


# ---- img2img scripts

def test_sd_upscale(client):
    upscalers = [u["name"] for u in client.get("/sdapi/v1/upscalers").json()]
    images, info = generated(post(client, "img2img", "SD upscale", ["", 16, upscalers.index("Lanczos"), 2.0]))
    assert [im.size for im in images] == [(128, 128)]
    assert "SD upscale upscaler: Lanczos" in info["infotexts"][0]
    refused(post(client, "img2img", "SD upscale", [None, 16, 99, 2.0]), "script_args[2] (Upscaler)",
            "out of range", "0: None")
    refused(post(client, "img2img", "SD upscale", [None, "lots"]), "script_args[1] (Tile overlap)", "not a number")


def test_outpainting_mk2(client):
    images, _ = generated(post(client, "img2img", "Outpainting mk2", [None, 32, 4, ["right"], 1.0, 0.05]))
    assert images[0].width > 64 and images[0].height == 64
    refused(post(client, "img2img", "Outpainting mk2", [None, 32, 4, ["north"]]),
            "script_args[3] (Outpainting direction)", "left, right, up, down")


def test_poor_mans_outpainting(client):
    images, info = generated(post(client, "img2img", "Poor man's outpainting", [32, 4, 1, ["right", "down"]]))
    assert images[0].size == (128, 128) and "Mask blur: 8" in info["infotexts"][0]
    refused(post(client, "img2img", "Poor man's outpainting", [32, 4, 7, ["left"]]),
            "script_args[2] (Masked content)", "0: fill, 1: original, 2: latent noise, 3: latent nothing")


def test_loopback(client):
    images, info = generated(post(client, "img2img", "Loopback", [2, 0.9, "Linear", "None"]))
    assert len(images) == 3 and info["all_seeds"] == [5, 6]
    images, _ = generated(post(client, "img2img", "Loopback", []))
    assert len(images) == 5, "A1111's defaults: 4 loops (a grid and each loop)"
    refused(post(client, "img2img", "Loopback", [2, 0.9, "Fast"]), "script_args[2] (Denoising strength curve)",
            "Aggressive, Linear, Lazy")
    refused(post(client, "img2img", "Loopback", [0]), "script_args[0] (Loops)", "at least 1")
    refused(post(client, "img2img", "Loopback", [2, 0.5, "Linear", "None", True]), "script_args",
            "5 values for Loopback, which takes 4", "Loops, Final denoising strength")
    refused(post(client, "txt2img", "Loopback", [2]), "script_name", "unknown script 'Loopback'")
    refused(post(client, "img2img", "Loopback", [2, 0.5, "Linear", "CLIP"]),
            "script_args[3] (Append interrogated prompt at each iteration)", "not available in Easel")


# ---- docs/scripts.md

def doc_tables() -> dict[str, list[list[str]]]:
    """`## Title (tabs)` → the rows of the first table under it (cells, header and rule left out)."""
    tables: dict[str, list[list[str]]] = {}
    title = None
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^##+ (.+?)( \(.*\))?$", line)
        if heading:
            title = heading.group(1)
        elif line.startswith("| ") and title and not line.startswith(("| index", "| txt2img")):
            tables.setdefault(title, []).append([c.strip() for c in line.strip("|").split(" | ")])
    return tables


def test_docs_tables_match_the_scripts_argument_layouts(client):
    tables = doc_tables()
    info = client.get("/sdapi/v1/script-info").json()
    selectable = {(r["name"], r["is_img2img"]): r["args"] for r in info if not r["is_alwayson"]}
    checked = set()
    for (name, _), args in selectable.items():
        title = next(t for t in tables if t.lower() == name)
        rows = tables[title]
        assert [int(r[0]) for r in rows] == list(range(len(args))), title
        for row, arg in zip(rows, args):
            label, default = row[1], json.loads(row[3])
            if label == "(info text)":
                continue
            assert label == arg["label"], title
            if isinstance(default, int) and not isinstance(default, bool) and arg.get("choices") and \
                    isinstance(arg["value"], str):
                default = arg["choices"][default]  # an index-valued control: the client sends the index
            assert default == arg["value"] or default == "" and arg["value"] is None, (title, label)
        checked.add(title)
    assert checked == {"X/Y/Z plot", "Prompt matrix", "Prompts from file or textbox", "SD upscale",
                       "Outpainting mk2", "Poor man's outpainting", "Loopback"}
    axes = tables["Axis indices"]
    assert [r[2] for r in axes if r[0] != "–"] == selectable[("x/y/z plot", False)][0]["choices"]
    assert [r[2] for r in axes if r[1] != "–"] == selectable[("x/y/z plot", True)][0]["choices"]
    assert [r[2] for r in axes if not r[3].startswith("yes") and not r[3].startswith("*Easel only*: yes")] == []
