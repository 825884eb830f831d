"""The default args an API request gets for a script it does not name are the controls' values, as A1111 reads
them from Gradio 3 components: a `gr.State` built from a callable holds what the callable made."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from modules.extensions.compat.script_layout import defaults


class Unit:
    """Stands for a script's settings object (sd-webui-animatediff's AnimateDiffProcess)."""

    def __init__(self):
        self.enable = False


def test_a_state_made_from_a_callable_gives_the_callables_value():
    controls = [gr.State(value=Unit), gr.Checkbox(value=True), gr.State(value=[1, 2])]
    runner = SimpleNamespace(scripts=[SimpleNamespace(args_from=1, args_to=4, controls=controls)])
    args = defaults(runner)
    assert args[0] == 0 and isinstance(args[1], Unit) and args[1].enable is False
    assert args[2:] == [True, [1, 2]]
