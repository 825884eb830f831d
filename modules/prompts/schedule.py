"""Prompt editing `[from:to:when]` and alternation `[a|b]` → the text to use at each sampling step.

A prompt becomes a schedule: a list of `[end_step, text]`, each text used up to and including its end step.
`[from:to:when]` gives `from` up to step `when`, then `to`; `[to:when]` adds `to` after `when`; `[from::when]`
removes `from` after `when`. A `when` written with a decimal point is a fraction of the steps, otherwise a step
number; both are truncated to whole steps and capped at the step count. `[a|b|c]` uses option k mod n at step k.
Emphasis brackets are kept as text for `parse_prompt_attention`. A prompt the grammar cannot parse is used unchanged
for every step. With hires fix, the second pass has its own schedule (`hires_steps`): whole numbers count on from
the first pass's steps, fractions above 1 fall in the second pass. `use_old_scheduling` is A1111's compatibility
setting: a number below 1 is a fraction, anything else a step number, hires pass or not.

>>> g = lambda p: get_learned_conditioning_prompt_schedules([p], 10)[0]
>>> g("test")
[[10, 'test']]
>>> g("a [b:3]")
[[3, 'a '], [10, 'a b']]
>>> g("a [b: 3]")
[[3, 'a '], [10, 'a b']]
>>> g("a [[[b]]:2]")
[[2, 'a '], [10, 'a [[b]]']]
>>> g("[(a:2):3]")
[[3, ''], [10, '(a:2)']]
>>> g("a [b : c : 1] d")
[[1, 'a b  d'], [10, 'a  c  d']]
>>> g("a[b:[c:d:2]:1]e")
[[1, 'abe'], [2, 'ace'], [10, 'ade']]
>>> g("a [unbalanced")
[[10, 'a [unbalanced']]
>>> g("a [b:.5] c")
[[5, 'a  c'], [10, 'a b c']]
>>> g("a [b:0.25] c [d::0.75]")
[[2, 'a  c d'], [7, 'a b c d'], [10, 'a b c ']]
>>> g("a [b:c:30]")  # past the last step: capped
[[10, 'a b']]
>>> g("a [b:c:0]")  # before the first step: `to` from the start
[[10, 'a c']]
>>> g("a [{b|d{:.5] c")  # `|` outside [a|b] cannot parse: unchanged (A1111's own doctest here is stale)
[[10, 'a [{b|d{:.5] c']]
>>> g("((a][:b:c [d:3]")
[[3, '((a][:b:c '], [10, '((a][:b:c d']]
>>> g("[a|(b:1.1)]")  # doctest: +NORMALIZE_WHITESPACE
[[1, 'a'], [2, '(b:1.1)'], [3, 'a'], [4, '(b:1.1)'], [5, 'a'], [6, '(b:1.1)'], [7, 'a'], [8, '(b:1.1)'],
 [9, 'a'], [10, '(b:1.1)']]
>>> g("[fe|]male")  # doctest: +NORMALIZE_WHITESPACE
[[1, 'female'], [2, 'male'], [3, 'female'], [4, 'male'], [5, 'female'], [6, 'male'], [7, 'female'], [8, 'male'],
 [9, 'female'], [10, 'male']]
>>> g("[fe|||]male")  # doctest: +NORMALIZE_WHITESPACE
[[1, 'female'], [2, 'male'], [3, 'male'], [4, 'male'], [5, 'female'], [6, 'male'], [7, 'male'], [8, 'male'],
 [9, 'female'], [10, 'male']]
>>> g("a [cat|[dog:wolf:3]] (keep:1.2) \\\\(esc\\\\)")[:4]  # doctest: +NORMALIZE_WHITESPACE
[[1, 'a cat (keep:1.2) \\\\(esc\\\\)'], [2, 'a dog (keep:1.2) \\\\(esc\\\\)'], [3, 'a cat (keep:1.2) \\\\(esc\\\\)'],
 [4, 'a wolf (keep:1.2) \\\\(esc\\\\)']]

With hires fix (10 first-pass steps, 10 hires steps), the hires schedule:

>>> h = lambda p: get_learned_conditioning_prompt_schedules([p], 10, 10)[0]
>>> h("a [b:.5] c")
[[10, 'a b c']]
>>> h("a [b:1.5] c")
[[5, 'a  c'], [10, 'a b c']]
>>> h("a [b:13] c")
[[3, 'a  c'], [10, 'a b c']]
>>> get_learned_conditioning_prompt_schedules(["a [b:13] c"], 10, 10, use_old_scheduling=True)
[[[10, 'a  c']]]
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Sequence

import lark

# The language of prompt editing; `emphasized` exists so brackets of emphasis nest correctly around edits.
GRAMMAR = r"""
!start: (prompt | /[][():]/+)*
prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
!emphasized: "(" prompt ")"
        | "(" prompt ":" prompt ")"
        | "[" prompt "]"
scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
alternate: "[" prompt ("|" [prompt])+ "]"
WHITESPACE: /\s+/
plain: /([^\\\[\]():|]|\\.)+/
%import common.SIGNED_NUMBER -> NUMBER
"""

SCHEDULE_PARSER = lark.Lark(GRAMMAR, maybe_placeholders=True)
# The Earley parser is super-linear in the text (a 2,000-character prompt of emphasis took 80 s), so a text that
# cannot hold `[a:b:N]` or `[a|b]` is not parsed at all, and a long one is cut at top-level commas first.
_MAY_SCHEDULE = re.compile(r"\||:\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\]")
_BRACKETS = {")": "(", "]": "["}


@dataclass(frozen=True)
class _Timing:
    """How a `when` number maps to a step of the pass being scheduled."""

    steps: int
    int_offset: int = 0
    fraction_offset: float = 0.0
    old_scheduling: bool = False

    def end_step(self, number: str) -> int:
        value = float(number)
        if self.old_scheduling:
            value = value * self.steps if value < 1 else value
        elif "." in number:
            value = (value - self.fraction_offset) * self.steps
        else:
            value = value - self.int_offset
        return min(self.steps, int(value))


def _timing(base_steps: int, hires_steps: int | None, use_old_scheduling: bool) -> _Timing:
    if hires_steps is None or use_old_scheduling:
        return _Timing(base_steps, old_scheduling=use_old_scheduling)
    return _Timing(hires_steps, int_offset=base_steps, fraction_offset=1.0)


def _change_steps(tree: lark.Tree, timing: _Timing) -> list[int]:
    """The steps at which the text may change, ending with the last step."""
    steps = {timing.steps}
    for node in tree.iter_subtrees():
        if node.data == "scheduled":
            end = timing.end_step(str(node.children[-2]))  # the step number's token
            if end >= 1:
                steps.add(end)
        elif node.data == "alternate":
            steps.update(range(1, timing.steps + 1))
    return sorted(steps)


def _text_at(node, step: int, timing: _Timing) -> str:
    """The prompt text that `node` stands for at `step`."""
    if node is None:
        return ""
    if isinstance(node, lark.Token):
        return str(node)
    if node.data == "scheduled":
        before, after, _, number, _ = node.children
        return _text_at(before if step <= timing.end_step(number) else after, step, timing)
    if node.data == "alternate":
        options = node.children
        return _text_at(options[(step - 1) % len(options)], step, timing)
    return "".join(_text_at(child, step, timing) for child in node.children)


def top_level_pieces(prompt: str) -> list[str]:
    """The prompt cut after each comma outside bracket pairs (one piece when a closing bracket pairs wrongly).

    No edit, alternation or emphasis can span such a comma (an opening bracket that is never closed is plain
    text to the grammar), so each piece parses on its own exactly as inside the whole, in time linear overall.

    >>> top_level_pieces("a [b:c:2], (d, e), f")
    ['a [b:c:2],', ' (d, e),', ' f']
    >>> top_level_pieces("(a, [b:c:2], d")
    ['(a,', ' [b:c:2],', ' d']
    >>> top_level_pieces("a (b, c] d, e")
    ['a (b, c] d, e']
    """
    stack: list[int] = []
    paired: set[int] = set()
    positions = [i for i, c in enumerate(prompt) if c in "()[]" and not _escaped(prompt, i)]
    for i in positions:
        if prompt[i] in "([":
            stack.append(i)
        elif not stack or prompt[stack[-1]] != _BRACKETS[prompt[i]]:
            return [prompt]
        else:
            paired.update((stack.pop(), i))
    pieces, start, depth = [], 0, 0
    brackets = set(positions) & paired
    for i, char in enumerate(prompt):
        if i in brackets:
            depth += 1 if char in "([" else -1
        elif char == "," and depth == 0 and not _escaped(prompt, i):
            pieces.append(prompt[start:i + 1])
            start = i + 1
    return pieces + [prompt[start:]] if start < len(prompt) else pieces


def _escaped(text: str, i: int) -> bool:
    """Whether text[i] follows an odd number of backslashes.

    >>> _escaped("a" + "\\\\" + "(", 2), _escaped("a" + "\\\\" * 2 + "(", 3)
    (True, False)
    """
    run = 0
    while i - run - 1 >= 0 and text[i - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def _parse(piece: str):
    """The piece's tree; the piece itself when it can hold no edit or alternation (no `|`, no `:N]`, no escape
    that could fail); None when it cannot be parsed."""
    if not _MAY_SCHEDULE.search(piece) and "\\" not in piece:
        return piece
    try:
        return SCHEDULE_PARSER.parse(piece)
    except lark.exceptions.LarkError:
        return None


def prompt_schedule(prompt: str, timing: _Timing) -> list[list]:
    pieces = [_parse(piece) for piece in top_level_pieces(prompt)]
    trees = [p for p in pieces if not isinstance(p, str)]
    if not trees or None in trees:  # nothing scheduled, or a piece the grammar cannot parse: the text as it is
        return [[timing.steps, prompt]]
    steps = sorted({step for tree in trees for step in _change_steps(tree, timing)})
    return [[step, "".join(p if isinstance(p, str) else _text_at(p, step, timing) for p in pieces)]
            for step in steps]


def get_learned_conditioning_prompt_schedules(
    prompts: Sequence[str], base_steps: int, hires_steps: int | None = None, use_old_scheduling: bool = False
) -> list[list[list]]:
    """One schedule `[[end_step, text], …]` per prompt (A1111's name and return shape, for extensions)."""
    timing = _timing(base_steps, hires_steps, use_old_scheduling)
    schedules = {prompt: prompt_schedule(prompt, timing) for prompt in dict.fromkeys(prompts)}
    return [schedules[prompt] for prompt in prompts]
