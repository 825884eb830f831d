"""Fixes to Gradio's own page code, served at the URL of the file they fix (the route wins over Gradio's mount).

Gradio 6's page keeps a loading status per component that an event has touched, and on each status change of any
event it pushes every one of those statuses into its component tree again, finding each component by a walk of the
whole tree: status changes × components with a status × tree size. Easel with the 51 extensions of the corpus
(docs/extension-corpus.md) makes 5,600 components and 1,100 events; its page spent over 250 s there before the
prompt box appeared (Chromium's profiler: 95 % of the time in that walk). The fix pushes a status only when it
differs from the one pushed last for that component: on a quiet 2-core machine the prompt box came at 41 s instead
of 113 s and the Generate button at 44 s instead of 223 s (docs/ui.md, "Page load with many extensions").

A patch applies only where its text is found exactly once in the installed Gradio's file; otherwise the file is
served as Gradio ships it and the log says so, so a Gradio upgrade can never break the page through a patch.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PagePatch:
    """Replace `find` (which must occur once) by `replace` in the one asset named like `glob`."""

    name: str
    glob: str
    find: str
    replace: str


# Blocks-*.js, DependencyManager.update_loading_stati_state: before, every entry of loading_stati.current went to
# update_state_cb; after, only entries whose fields differ from those last sent for that component id.
UNCHANGED_STATUSES = PagePatch(
    name="push only changed loading statuses",
    glob="Blocks-*.js",
    find=("async update_loading_stati_state(){await Promise.all(Object.entries(this.loading_stati.current)"
          ".map(([e,t])=>this.update_state_cb(Number(e),{loading_status:t},!1)))}"),
    replace=("async update_loading_stati_state(){let p=this.__easel_sent||(this.__easel_sent=new Map),"
             "same=(a,b)=>{let k=Object.keys(a);return k.length===Object.keys(b).length&&k.every(x=>a[x]===b[x])};"
             "await Promise.all(Object.entries(this.loading_stati.current)"
             ".filter(([e,t])=>{let o=p.get(e);if(o&&same(o,t))return!1;p.set(e,t);return!0})"
             ".map(([e,t])=>this.update_state_cb(Number(e),{loading_status:t},!1)))}"),
)
PATCHES: tuple[PagePatch, ...] = (UNCHANGED_STATUSES,)


def gradio_assets_dir() -> Path:
    """The folder Gradio serves /assets/ from (its built page)."""
    import gradio

    return Path(gradio.__file__).parent / "templates" / "frontend" / "assets"


def apply_patch(text: str, patch: PagePatch) -> str | None:
    """`text` with the patch applied, or None when its text is not there exactly once.

    >>> p = PagePatch("demo", "*.js", "a()", "b()")
    >>> apply_patch("x;a();y", p), apply_patch("x", p), apply_patch("a();a()", p)
    ('x;b();y', None, None)
    """
    return text.replace(patch.find, patch.replace) if text.count(patch.find) == 1 else None


def patched_assets(assets_dir: Path, patches: tuple[PagePatch, ...] = PATCHES) -> dict[str, str]:
    """File name → patched text for each patch that applies to exactly one file of `assets_dir`."""
    patched: dict[str, str] = {}
    for patch in patches:
        hits = []
        for file in sorted(assets_dir.glob(patch.glob)):
            text = patched.get(file.name) or file.read_text(encoding="utf-8")
            if (new := apply_patch(text, patch)) is not None:
                hits.append((file.name, new))
        if len(hits) == 1:
            patched[hits[0][0]] = hits[0][1]
        else:
            log.warning("Gradio page fix %r not applied: its code was found in %d files of %s (this Gradio "
                        "version differs from the one it was written for)", patch.name, len(hits), assets_dir)
    return patched


def mount(server, assets_dir: Path | None = None) -> dict[str, str]:
    """GET /assets/<name> for each patched file, ahead of Gradio's own route; returns what was patched."""
    from fastapi.responses import Response

    patched = patched_assets(assets_dir or gradio_assets_dir())
    for name, text in patched.items():
        body = text.encode("utf-8")

        def serve(body: bytes = body) -> Response:
            # revalidated: the name is Gradio's, but what is served under it changes with Easel's patches
            return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

        server.add_api_route(f"/assets/{name}", serve, methods=["GET"], include_in_schema=False)
    return patched
