"""What sd-webui-negpip does through A1111's names, done by a small probe: it encodes words of the prompt on their
own (`prompt_parser.get_learned_conditioning`, `cond_stage_model.tokenize_line`), walks
`sd_model.model.diffusion_model.named_modules()` for ldm's `attn2` CrossAttention layers and replaces their
`forward`: the UNet then calls the replacement with ldm's arguments, so appending the words to the context with
their values negated changes the image; deleting the replacement gives the unhooked image back."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import module_of, start, stop
from tests.pipeline.conftest import make_app

PROBE = '''
import torch
from modules import prompt_parser, scripts, shared

SEEN = {"mode": "off"}


def attention(module, x, context, negate_last=0):
    """ldm's attention from the layer's parts, the values of the last `negate_last` context tokens negated."""
    q, k, v = module.to_q(x), module.to_k(context), module.to_v(context)
    if negate_last:
        v = torch.cat([v[:, :-negate_last], -v[:, -negate_last:]], 1)
    b, n, width = q.shape
    heads = module.heads
    q, k, v = (t.reshape(b, -1, heads, width // heads).transpose(1, 2) for t in (q, k, v))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, width)
    return module.to_out(out)


def hook(module, extra):
    def forward(x, context=None, mask=None, **kwargs):
        SEEN["calls"] = SEEN.get("calls", 0) + 1
        SEEN["context"] = tuple(context.shape)
        if SEEN["mode"] == "pass":
            return type(module).forward(module, x, context=context)
        half = x.shape[0] // 2  # cond rows first, then uncond (one batched call)
        words = extra.to(context).expand(half, -1, -1)
        cond = attention(module, x[:half], torch.cat([context[:half], words], 1), words.shape[1])
        return torch.cat([cond, attention(module, x[half:], context[half:])])
    return forward


class Script(scripts.Script):
    def title(self):
        return "attention probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process_batch(self, p, *args, **kwargs):
        if SEEN["mode"] == "off":
            return
        chunks, count = shared.sd_model.cond_stage_model.tokenize_line("red")
        [[scheduled]] = prompt_parser.get_learned_conditioning(shared.sd_model, ["red"], p.steps)
        SEEN["encoded"] = (len(chunks), count, scheduled.end_at_step, tuple(scheduled.cond.shape))
        extra = scheduled.cond[1:1 + count]  # the word's own tokens, after BOS
        SEEN["hooked"] = []
        for name, module in p.sd_model.model.diffusion_model.named_modules():
            if "attn2" in name and type(module).__name__ == "CrossAttention":
                module.forward = hook(module, extra)
                SEEN["hooked"].append(name)

    def postprocess(self, p, processed, *args):
        for name, module in p.sd_model.model.diffusion_model.named_modules():
            if "attn2" in name and type(module).__name__ == "CrossAttention" and "forward" in vars(module):
                del module.forward
'''


@pytest.fixture(scope="module")
def probe_app(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("attention")
    folder = root / "probe"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "probe.py").write_text(textwrap.dedent(PROBE), encoding="utf-8")
    app = make_app(root / "data", tiny_checkpoint, "--nowebui")
    host = start(app, [("probe", folder)])
    yield app, module_of(host, "attention probe").SEEN
    app.jobs.close()
    stop(app)


def image(app, mode: str, seen: dict) -> np.ndarray:
    seen.clear()
    seen["mode"] = mode
    result = app.txt2img(GenerationRequest(prompt="a circle", steps=2, width=64, height=64, seed=3))
    return np.asarray(result.images[0])


def test_hooked_cross_attention_changes_the_image_and_unhooks(probe_app):
    app, seen = probe_app
    plain = image(app, "off", seen)
    passed = image(app, "pass", seen)
    assert seen["hooked"] and all(".attn2" in name for name in seen["hooked"])
    assert seen["hooked"][0].startswith("input_blocks.")  # ldm's names
    assert seen["calls"] > 0 and seen["context"][1] == 77
    assert np.array_equal(passed, plain)  # the layer's own attention through the replacement
    negated = image(app, "negate", seen)
    assert seen["encoded"][:3] == (1, 1, 2) and seen["encoded"][3][0] == 77
    assert seen["context"][1] == 77  # the uncond half's call; the cond half got 77 + 1 tokens
    assert not np.array_equal(negated, plain)
    assert np.array_equal(image(app, "off", seen), plain)  # postprocess deleted the replacements

