"""Gradio 3's `Blocks.dependencies`: the page's event listeners as a list of dicts, which extensions search to find
what a button of A1111's page does (sd-webui-agent-scheduler looks for the Generate button's click there).

Gradio 3.41 kept one dict per listener, with `targets` a list of block ids and `trigger` the event's name
("click", "change" …); Gradio 4 and later keep `fns` ({id: BlockFunction}), whose configuration lists
`targets` as (block id, event) pairs. The view is built from those each time it is read, in the order the
listeners were added, so it is never stale; changing it changes nothing.
"""
from __future__ import annotations


def gradio3_dependency(fn) -> dict:
    """One listener's configuration in Gradio 3's shape; a listener on several events (`gr.on`) keeps the
    first event's name as its `trigger`."""
    config = dict(fn.get_config())
    targets = list(fn.targets)  # [(block id or None, event name)]
    config["targets"] = [block_id for block_id, _ in targets if block_id is not None]
    config["trigger"] = targets[0][1] if targets else "load"
    return config


def dependencies(blocks) -> list[dict]:
    """`blocks.dependencies` as Gradio 3 listed them."""
    return [gradio3_dependency(fn) for fn in blocks.fns.values()]
