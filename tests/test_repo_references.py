"""Code, tests and docs cite only documents a clone of this repository holds (docs/contributing.md, section 2):
`docs/<page>.md` pages that exist, sections of them that exist, or papers; never a planning document, a tracker
number or a path outside the repository."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("modules", "tests", "extensions-builtin", "javascript", "bench", "tools", "docs", "configs", "models",
           "webui.py", "webui.sh", "run_tests.sh", "README.md", "style.css", "pyproject.toml", "pytest.ini",
           "requirements.txt", "requirements-test.txt", "requirements-cluster.txt")
SUFFIXES = {".py", ".js", ".sh", ".md", ".css", ".toml", ".ini", ".txt", ".yaml", ".yml"}
SKIPPED_DIRS = {"__pycache__", ".venv", "results", "node_modules"}
# Written in pieces so that this file does not match itself.
OUTSIDE = re.compile("|".join((
    r"\b(?:" + "COM" + "PAT|ARCHI" + r"TECTURE)(?:\.md)?\s*§",  # a planning document's sections
    r"\b(?:" + "COM" + "PAT|ARCHI" + r"TECTURE)\.md\b",
    r"\.\./" + r"shared\b|/wo" + r"rk/" + r"shared\b",  # a folder beside the repository
    r"\bhouse " + r"rules?\b",
    r"\b[Ii]ssues? " + r"#?\d+\b",  # a tracker's numbers mean nothing in a clone
)))
CITED_PAGE = re.compile(r"\bdocs/([\w.-]+\.md)(?: §(\d+))?")


def scanned_files() -> list[Path]:
    files = []
    for name in SCANNED:
        path = ROOT / name
        candidates = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for file in candidates:
            if file.is_file() and file.suffix in SUFFIXES and not SKIPPED_DIRS & set(file.relative_to(ROOT).parts):
                files.append(file)
    return files


def lines_matching(pattern: re.Pattern) -> list[tuple[str, int, re.Match]]:
    found = []
    for file in scanned_files():
        if file == Path(__file__).resolve():
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            found += [(str(file.relative_to(ROOT)), number, m) for m in pattern.finditer(line)]
    return found


def test_nothing_cites_a_document_outside_the_repository():
    hits = [f"{path}:{line}: {m.group(0)!r}" for path, line, m in lines_matching(OUTSIDE)]
    assert hits == [], "cite docs/<page>.md instead:\n" + "\n".join(hits)


def test_cited_pages_and_sections_exist():
    missing = []
    for path, line, m in lines_matching(CITED_PAGE):
        page = ROOT / "docs" / m.group(1)
        if not page.is_file():
            missing.append(f"{path}:{line}: {m.group(0)} (no such page)")
        elif m.group(2) and not re.search(rf"^##+ {m.group(2)}\. ", page.read_text(encoding="utf-8"), re.M):
            missing.append(f"{path}:{line}: {m.group(0)} (the page has no section {m.group(2)})")
    assert missing == [], "\n".join(missing)


def test_the_pattern_finds_what_it_forbids():
    """The forbidden spellings, assembled here as a reader would meet them, are found (else the test above could
    never fail)."""
    samples = ["see " + "COM" + "PAT §5", "ARCHI" + "TECTURE.md", "../" + "shared/notes", "house " + "rule 6",
               "fixes " + "iss" + "ue " + "9"]
    assert [bool(OUTSIDE.search(s)) for s in samples] == [True] * len(samples)
    assert not OUTSIDE.search("docs/architecture.md §4 and Karras et al. (2022), §3")
