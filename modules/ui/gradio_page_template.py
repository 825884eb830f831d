"""A fix to Gradio's page template (the HTML of /): its inline script's `const ce` no longer takes a global name.

The template ends with a script that declares `const ce` (the gradio-app element, to drop the body's padding) in
the page's global scope. In A1111's Gradio 3 page the extensions' scripts were in <head> and ran first, so an
extension script declaring `ce` at its top level (sd-webui-lobe-theme's bundle has `function ce`) won, and only
that small script failed. Gradio 6 adds the page's <head> scripts after its own inline ones have run, so the
extension's script is the one refused ("Identifier 'ce' has already been declared") and the theme never loads.
Wrapped in a block, the declaration is local to that script and both run.

As with the asset fixes (gradio_page_fixes.py), the patch applies only where its text is found exactly once;
otherwise the template is served as Gradio ships it and the log says so.
"""
from __future__ import annotations

import logging

import jinja2

from modules.ui.gradio_page_fixes import PagePatch, apply_patch

log = logging.getLogger(__name__)

TEMPLATE = "frontend/index.html"
LOCAL_CE = PagePatch(
    name="keep the template script's `ce` out of the global scope",
    glob=TEMPLATE,
    find='<script>\n\t\t\tconst ce = document.getElementsByTagName("gradio-app");',
    replace='<script>{\n\t\t\tconst ce = document.getElementsByTagName("gradio-app");',
)
CLOSE = PagePatch(name="close the block LOCAL_CE opens", glob=TEMPLATE,
                  find='\t\t\t}\n\t\t</script>\n\t</body>', replace='\t\t\t}}\n\t\t</script>\n\t</body>')


def patched_template(source: str) -> str | None:
    """The template with the inline script's body in a block, or None when the text is not as expected.

    >>> patched_template('<script>\\n\\t\\t\\tconst ce = document.getElementsByTagName("gradio-app");\\n'
    ...                  '\\t\\t\\t}\\n\\t\\t</script>\\n\\t</body>').count("{")
    1
    >>> patched_template("<html></html>") is None
    True
    """
    opened = apply_patch(source, LOCAL_CE)
    return apply_patch(opened, CLOSE) if opened is not None else None


def install(templates) -> bool:
    """Serve Gradio's `templates` (its Jinja2Templates) with the template patched; False (and logged) when the
    installed Gradio's template differs from the one this was written for."""
    loader = templates.env.loader
    if isinstance(loader, PatchedLoader):
        return True
    source, _, _ = loader.get_source(templates.env, TEMPLATE)
    if patched_template(source) is None:
        log.warning("Gradio page fix %r not applied: this Gradio's %s differs from the one it was written for",
                    LOCAL_CE.name, TEMPLATE)
        return False
    templates.env.loader = PatchedLoader(loader)
    if templates.env.cache is not None:  # a page rendered before keeps no unpatched copy
        templates.env.cache.clear()
    return True


class PatchedLoader(jinja2.BaseLoader):
    """Gradio's template loader, with the page template patched on the way out."""

    def __init__(self, inner: jinja2.BaseLoader):
        self.inner = inner

    def get_source(self, environment, template: str):
        source, filename, uptodate = self.inner.get_source(environment, template)
        if template == TEMPLATE:
            source = patched_template(source) or source
        return source, filename, uptodate

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()
