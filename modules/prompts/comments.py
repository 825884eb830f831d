"""Prompt comments (A1111's `enable_prompt_comments`, on by default): `#` hides the rest of its line from the
generation, so notes can sit in a prompt, a style or a prompts file without reaching the text encoder.

The result keeps A1111's newlines exactly (a whole-line comment at the start of the text or after a kept line
leaves one newline, a comment after text leaves the line's end), since the stripped prompt is what the infotext
records and what extensions read.
"""
from __future__ import annotations

import re

# a line that is all comment, at the very start or right after a newline (which it takes with it)
_WHOLE_LINE = re.compile(r"(?:\A|\n)#.*?(?:\n|\Z)")
# what is left: from a `#` to the end of its line, newline included
_REST_OF_LINE = re.compile(r"#.*?(?:\n|\Z)")


def strip_comments(text: str) -> str:
    """The text without its comments; each removed piece leaves one newline.

    >>> strip_comments("a cat # orange?\\nsitting")
    'a cat \\nsitting'
    >>> strip_comments("# notes\\na dog")
    '\\na dog'
    >>> strip_comments("a dog\\n# one\\n# two\\nin snow")
    'a dog\\n\\nin snow'
    >>> strip_comments("no comments here")
    'no comments here'
    """
    return _REST_OF_LINE.sub("\n", _WHOLE_LINE.sub("\n", text))


def prompt_pair(enabled: bool, prompt: str, negative_prompt: str) -> tuple[str, str]:
    """A job's (prompt, negative prompt) as the text encoder gets them: stripped when `enabled`."""
    if not enabled:
        return prompt, negative_prompt
    return strip_comments(prompt), strip_comments(negative_prompt)
