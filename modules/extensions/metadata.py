"""An extension's `metadata.ini` (A1111 1.7+): its canonical name and the extensions it requires or loads
before/after. Unreadable files are reported, never fatal: the extension then simply has no metadata.

    [Extension]
    Name = my-extension
    Requires = other-extension, another|alternative
    Before = loaded-after-me
    After = loaded-before-me

    [scripts/foo.py]
    After = other-extension/scripts/bar.py
"""
from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path

FILENAME = "metadata.ini"
SECTION = "Extension"


def parse_list(text: str) -> tuple[str, ...]:
    """A1111's list syntax: commas and/or spaces separate names, case is ignored.

    >>> parse_list(" A, b  c,, ")
    ('a', 'b', 'c')
    >>> parse_list("")
    ()
    """
    return tuple(x for x in re.split(r"[,\s]+", text.strip().lower()) if x)


@dataclass(frozen=True)
class Metadata:
    """What metadata.ini says; `canonical_name` is lower case (the folder name when the file names none)."""

    canonical_name: str
    requires: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    problem: str | None = None  # the file exists but could not be read
    sections: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def script_requirements(self, key: str, relative_path: str) -> tuple[str, ...]:
        """`Requires`, `Before` or `After` for one script (`scripts/foo.py`): its own section plus [Extension]'s,
        as A1111's script loader reads them.

        >>> m = Metadata("x", after=("a",), sections={"scripts/foo.py": {"after": "b"}})
        >>> m.script_requirements("After", "scripts/foo.py"), m.script_requirements("After", "scripts/bar.py")
        (('b', 'a'), ('a',))
        """
        own = parse_list(self.sections.get(relative_path.replace("\\", "/"), {}).get(key.lower(), ""))
        general = {"requires": self.requires, "before": self.before, "after": self.after}[key.lower()]
        return own + tuple(x for x in general if x not in own)


def parse_metadata(text: str, folder_name: str) -> Metadata:
    """Parse metadata.ini text; an error becomes `problem` (the extension keeps its folder name).

    >>> m = parse_metadata("[Extension]\\nName = My-Ext\\nRequires = a, b|c\\nAfter = d", "folder")
    >>> m.canonical_name, m.requires, m.after
    ('my-ext', ('a', 'b|c'), ('d',))
    >>> parse_metadata("no section header", "folder").problem.startswith("metadata.ini: ")
    True
    """
    config = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        config.read_string(text)
    except configparser.Error as e:
        first_line = str(e).splitlines()[0]
        return Metadata(folder_name.lower().strip(), problem=f"{FILENAME}: {first_line}")
    name = config.get(SECTION, "Name", fallback="").strip() or folder_name

    def read(key: str) -> tuple[str, ...]:
        return parse_list(config.get(SECTION, key, fallback=""))

    sections = {s: dict(config.items(s)) for s in config.sections() if s != SECTION}
    return Metadata(name.lower().strip(), read("Requires"), read("Before"), read("After"), None, sections)


def read_metadata(folder: Path) -> Metadata:
    """The metadata of the extension in `folder` (defaults when it has no metadata.ini)."""
    file = folder / FILENAME
    if not file.is_file():
        return Metadata(folder.name.lower().strip())
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return Metadata(folder.name.lower().strip(), problem=f"{FILENAME}: {e.strerror or e}")
    return parse_metadata(text, folder.name)
