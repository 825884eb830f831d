"""Gradio's page template keeps its inline script's `ce` local (modules/ui/gradio_page_template.py), so an
extension script declaring `ce` at its top level loads (sd-webui-lobe-theme's bundle was refused before)."""
from __future__ import annotations

import re

import gradio.routes as gradio_routes

from modules.ui import gradio_page_template as page_template


def test_the_page_template_declares_no_global_ce():
    assert page_template.install(gradio_routes.templates)
    assert page_template.install(gradio_routes.templates)  # twice: still one block
    env = gradio_routes.templates.env
    source, _, _ = env.loader.get_source(env, page_template.TEMPLATE)
    script = re.search(r"<script>(\{\s*const ce = .*?)</script>", source, re.S)
    assert script is not None, "the inline script's body is not in a block"
    body = script.group(1)
    assert body.count("{") == body.count("}") and body.rstrip().endswith("}")
    assert source.count("const ce") == 1


def test_another_template_is_served_as_it_is():
    env = gradio_routes.templates.env
    page_template.install(gradio_routes.templates)
    names = [n for n in env.loader.list_templates() if n != page_template.TEMPLATE and n.endswith(".html")]
    for name in names[:3]:
        assert env.loader.get_source(env, name)[0] == env.loader.inner.get_source(env, name)[0]
