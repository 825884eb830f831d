"""Run a corpus of real A1111 extensions (tests/extensions/corpus.json) against Easel and print what works.

Each extension comes from a local git snapshot (`--mirrors`, one `<owner>+<repo>/repo` git dir per extension, as
the `fetch` tool leaves them; their code stays out of this repository), is exported at the listed commit into a
fresh data dir's `extensions/<name>`, and Easel is started on it (`webui.py --data-dir … --port …`), several
extensions per start. Recorded per extension: problems Easel reported while installing or loading it (the Problem
column of the Extensions tab, read from the log), exceptions in its hooks, errors in the browser console that come
from its files (Chromium through Playwright), and its smoke check (a script listed, a route answering, a setting,
an element on the page, an infotext key and a changed image). Finally one start with all of them and a txt2img.

install.py scripts run in pip's dry-run mode (PIP_DRY_RUN=1) with Easel's constraints active
(modules/extensions/constraints.py), so nothing is installed into Easel's environment; the tool also compares the
installed distributions before and after and says so if anything changed. What a dry run says it would install
(only packages Easel does not have: the constraints refuse the others) goes with `pip install --target` into a
throwaway folder put on the server's PYTHONPATH (`--no-site` skips that: such extensions then load without them).

    .venv/bin/python tools/extension_corpus.py [--only NAME ...] [--batch 10] [--write-doc docs/extension-corpus.md]
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from modules.extensions.constraints import canonical  # noqa: E402
from tools.corpus_page import browser_session, open_page  # noqa: E402
from tools.corpus_server import DRY_PIP, Easel  # noqa: E402

CORPUS = ROOT / "tests" / "extensions" / "corpus.json"
MIRRORS = ROOT.parent / ".mirror"  # where the snapshots of the corpus repositories sit, beside the checkout
# what A1111 1.10's environment carries (through gradio 3, scikit-image, facexlib, pytorch_lightning, and its own
# requirements_versions.txt: scikit-image, GitPython, omegaconf, kornia, piexif, diskcache) and extensions import
# without asking for them (multidiffusion-upscaler imports skimage, the Civitai extension's install.py imports git)
A1111_PACKAGES = ["matplotlib", "imageio", "opencv-python", "torchmetrics", "einops", "scikit-image", "GitPython",
                  "omegaconf", "kornia", "piexif", "diskcache"]
PROBLEM = re.compile(r" (?:WARNING|ERROR) easel\.extensions: extension (\S+?):? (?!failed in)(.*)")
HOOK_FAILURE = re.compile(r" ERROR easel\.extensions: extension (\S+) failed in (.+?): (.*)")
VISIBLE_PROMPT = "[...document.querySelectorAll('#txt2img_prompt textarea')].some(t => t.offsetParent !== null)"
WOULD_INSTALL = re.compile(r"^Would install (.+)$", re.M)


@dataclass
class Entry:
    name: str
    url: str
    commit: str
    kind: str
    smoke: dict
    note: str = ""  # why a row fails on A1111 1.10.1 too (e.g. an import nothing in its environment provides)

    @property
    def mirror(self) -> str:
        owner, repo = self.url.rstrip("/").removesuffix(".git").split("/")[-2:]
        return f"{owner}+{repo}"


@dataclass
class Row:
    name: str
    kind: str
    problems: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    smoke: str = "not run"
    smoke_ok: bool = False
    would_install: list[str] = field(default_factory=list)
    missing_files: int = 0
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.smoke_ok and not self.problems and not self.hooks and not self.console


def load_corpus(path: Path) -> list[Entry]:
    return [Entry(**item) for item in json.loads(path.read_text(encoding="utf-8"))["extensions"]]


def export(entry: Entry, mirrors: Path, target: Path) -> int:
    """Write the commit's files into `target`; returns how many files the snapshot lacks (large blobs it left out)."""
    git_dir = mirrors / entry.mirror / "repo"
    if not git_dir.is_dir():
        raise FileNotFoundError(f"no snapshot of {entry.url} at {git_dir} "
                                f"(fetch github:{entry.mirror.replace('+', '/')})")
    listing = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-z", entry.commit],
                             capture_output=True, check=True).stdout.decode().split("\0")
    missing = 0
    for item in filter(None, listing):
        meta, path = item.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind != "blob" or mode == "120000":
            continue
        blob = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "blob", sha], capture_output=True)
        if blob.returncode != 0:
            missing += 1
            continue
        out = target / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(blob.stdout)
    return missing


def installed_versions() -> dict[str, str]:
    return {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions()}


def would_install(entries: list[Entry], data: Path) -> dict[str, list[str]]:
    """Run each exported extension's install.py as Easel does, in dry-run mode: name → packages pip would add."""
    from modules.extensions.installer import run_installer

    found = {}
    for entry in entries:
        folder = data / "extensions" / entry.name
        if (folder / "install.py").is_file():
            outcome = run_installer(entry.name, folder, timeout=600)
            found[entry.name] = [p for line in WOULD_INSTALL.findall(outcome.output) for p in line.split()]
    return found


def pinned(package: str) -> str:
    """pip's "Would install" word as a requirement of that exact version.

    >>> pinned("imageio-ffmpeg-0.8.1"), pinned("tntn-23.5.0")
    ('imageio-ffmpeg==0.8.1', 'tntn==23.5.0')
    """
    return re.sub(r"-(?=[0-9][^-]*$)", "==", package)


def install_into(site: Path, packages: list[str]) -> str:
    """`pip install --target site --no-deps` the exact versions a dry run named (a throwaway folder, never .venv)."""
    specs = sorted({canonical(pinned(p).split("==")[0]): pinned(p) for p in packages}.values())
    if not specs:
        return ""
    env = {k: v for k, v in os.environ.items() if k not in DRY_PIP}
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site), "--no-deps",
                           *specs], env=env, capture_output=True, text=True, timeout=1200)
    return "" if done.returncode == 0 else done.stderr[-500:]


def read_log(text: str, rows: dict[str, Row]) -> None:
    """Problems and hook failures the log names, onto the rows of the extensions they name."""
    for line in text.splitlines():
        if (match := HOOK_FAILURE.search(line)) and match.group(1) in rows:
            rows[match.group(1)].hooks.append(f"{match.group(2)}: {match.group(3)[:200]}")
        elif (match := PROBLEM.search(line)) and match.group(1) in rows:
            rows[match.group(1)].problems.append(match.group(2)[:300])
    for row in rows.values():  # a hook failure is also one of the extension's problems: list it once
        row.problems = [p for p in row.problems if not any(p[:80] == h[:80] for h in row.hooks)]


def smoke(entry: Entry, easel: Easel, page) -> tuple[bool, str]:
    """The entry's smoke check: every key it gives must hold."""
    check, said = entry.smoke, []
    if "script" in check:
        titles = {s["name"] for s in easel.get("/sdapi/v1/script-info").json()}
        said.append(f"script '{check['script']}' " + ("listed" if check["script"] in titles else "MISSING"))
    if "route" in check:
        code = easel.get(check["route"]).status_code
        said.append(f"GET {check['route']} {code}" + ("" if code < 400 else " FAILED"))
    if "setting" in check:
        said.append(f"setting {check['setting']} " + ("present" if check["setting"] in easel.get(
            "/sdapi/v1/options").json() else "MISSING"))
    if "flag" in check:
        said.append(f"flag --{check['flag']} " + ("added" if check["flag"] in easel.get(
            "/sdapi/v1/cmd-flags").json() else "MISSING"))
    if "click" in check and page is not None:
        page.click(check["click"])
        page.wait_for_timeout(1500)
    if "element" in check:
        found = page is not None and page.query_selector(check["element"]) is not None
        said.append(f"element {check['element']} " + ("present" if found else "MISSING"))
    if "js" in check:
        found = page is not None and bool(page.evaluate(check["js"]))
        said.append(f"js {check['js']} " + ("true" if found else "FALSE"))
    if "txt2img" in check:
        said.append(image_check(check, easel))
    return not any(w in s for s in said for w in ("MISSING", "FAILED", "FALSE", "UNCHANGED", "ERROR")), "; ".join(said)


def image_check(check: dict, easel: Easel) -> str:
    """A txt2img with the script's args: its infotext key appears (and the image differs from one without it).

    `txt2img` names the always-on script to switch on ("" for none: an extension reached through the prompt or a
    selectable script); `request` holds fields for both calls, `run_request` fields for the second call only (a
    prompt in the extension's syntax, `script_name` and `script_args`)."""
    both = check.get("request", {})
    always_on = {check["txt2img"]: {"args": check.get("args", [])}} if check["txt2img"] else {}
    try:
        base = easel.txt2img(**both)
        run = easel.txt2img(**{**both, **check.get("run_request", {})}, alwayson_scripts=always_on)
    except requests.RequestException as e:
        return f"txt2img ERROR {e}"
    info = json.loads(run["info"])["infotexts"][0]
    said = f"infotext '{check['infotext']}' " + ("written" if check["infotext"] in info else "MISSING")
    if check.get("changes_image"):
        said += ", image " + ("changed" if pixels(run["images"][0]) != pixels(base["images"][0]) else "UNCHANGED")
    return said


def pixels(encoded: str) -> bytes:
    """An API image's pixels: the PNG's bytes also carry its infotext, which the checked call adds to."""
    import base64
    import io

    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
        return image.convert("RGB").tobytes()


def prepare_site(entries: list[Entry], mirrors: Path, work: Path, site: Path, extra: list[str]) -> dict:
    """Dry-run every install.py (and resolve `extra`, packages A1111's own environment carries) under Easel's
    constraints, then put what they would add into `site`: name → packages, plus "" → what went wrong."""
    data = work / "install-pass"
    for entry in entries:
        try:
            export(entry, mirrors, data / "extensions" / entry.name)
        except (FileNotFoundError, subprocess.CalledProcessError):
            continue
    added = would_install(entries, data)
    if extra:
        from modules.extensions.constraints import constrained_env

        with constrained_env() as env:
            done = subprocess.run([sys.executable, "-m", "pip", "install", *extra], env=env, capture_output=True,
                                  text=True, timeout=1200)
        added["(A1111 environment)"] = [p for line in WOULD_INSTALL.findall(done.stdout) for p in line.split()]
    added[""] = install_into(site, [p for packages in added.values() for p in packages])
    return added


def run_batch(entries: list[Entry], mirrors: Path, work: Path, browser, site: Path | None,
              added: dict) -> tuple[list[Row], list[str]]:
    """One Easel start with `entries`: their rows, and the page's errors that no extension's file explains."""
    data = work / f"data-{entries[0].name}"
    rows = {e.name: Row(e.name, e.kind, would_install=added.get(e.name, []), note=e.note) for e in entries}
    for entry in entries:
        try:
            rows[entry.name].missing_files = export(entry, mirrors, data / "extensions" / entry.name)
        except (FileNotFoundError, subprocess.CalledProcessError) as e:
            rows[entry.name].problems.append(f"not exported: {e}")
    print(f"starting Easel with {', '.join(rows)}", flush=True)
    easel, other = Easel(data, site), []
    try:
        page, other = open_page(browser, easel, rows) if browser is not None else (None, [])
        for entry in entries:
            try:
                rows[entry.name].smoke_ok, rows[entry.name].smoke = smoke(entry, easel, page)
            except Exception as e:  # one broken check must not end the run
                rows[entry.name].smoke = f"check ERROR {type(e).__name__}: {e}"[:300]
        if page is not None:
            page.close()
    finally:
        easel.stop()
    read_log(easel.log(), rows)
    return list(rows.values()), other


def all_together(entries: list[Entry], mirrors: Path, work: Path, browser, site: Path | None) -> str:
    """One start with every extension, the page loaded, and a txt2img through the API."""
    data = work / "data-all"
    for entry in entries:
        try:
            export(entry, mirrors, data / "extensions" / entry.name)
        except (FileNotFoundError, subprocess.CalledProcessError):
            continue
    try:
        easel = Easel(data, site)
    except RuntimeError as e:
        return f"all {len(entries)} together: Easel did not start: {str(e)[-500:]}"
    try:
        rows = {e.name: Row(e.name, e.kind) for e in entries}
        page, other = open_page(browser, easel, rows) if browser is not None else (None, [])
        if page is not None and not page.evaluate(VISIBLE_PROMPT):
            other.append("the txt2img prompt is not visible")
        started = time.time()
        result = easel.txt2img()
        seconds = time.time() - started
        errors = [f"{n}: {m}" for n, r in rows.items() for m in r.console] + [f"(page) {m}" for m in other]
        distinct = sorted(set(errors), key=errors.index)
        listing = "".join(f"\n  - {m}" for m in distinct[:15])
        return (f"all {len(entries)} together: page loaded with {len(errors)} console errors "
                f"({len(distinct)} distinct), txt2img gave {len(result['images'])} image(s) in {seconds:.1f} s"
                f"{listing}")
    except Exception as e:
        return f"all {len(entries)} together: FAILED {type(e).__name__}: {e}"[:500]
    finally:
        easel.stop()


def cell(items: list[str]) -> str:
    return "<br>".join(i.replace("|", "\\|").replace("\n", " ") for i in items) or "–"


def verdict(ok: bool, note: str) -> str:
    """The result cell: a failing row's note (why it fails on A1111 too) goes beside FAIL.

    >>> verdict(True, ""), verdict(False, ""), verdict(False, "fails on A1111 too")
    ('pass', 'FAIL', 'FAIL (fails on A1111 too)')
    """
    return "pass" if ok else f"FAIL ({note})" if note else "FAIL"


def table(rows: list[Row]) -> str:
    lines = ["| extension | kind | result | smoke check | problems (Extensions tab) | hook errors | console errors | "
             "install.py would add |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        result = verdict(r.ok, r.note)
        missing = f" ({r.missing_files} files missing from the snapshot)" if r.missing_files else ""
        lines.append(f"| {r.name}{missing} | {r.kind} | {result} | {r.smoke.replace('|', '/')} | {cell(r.problems)} | "
                     f"{cell(r.hooks)} | {cell(r.console)} | {cell(r.would_install)} |")
    return "\n".join(lines)


def write_doc(path: Path, rows: list[Row], together: str) -> None:
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Extension corpus\n"
    head = text.split("<!-- corpus-table -->", 1)[0].rstrip() + "\n\n<!-- corpus-table -->\n"
    passed = sum(r.ok for r in rows)
    path.write_text(f"{head}Latest run ({time.strftime('%Y-%m-%d')}): {passed} of {len(rows)} pass.\n\n"
                    f"{table(rows)}\n\n{together}\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--mirrors", type=Path, default=MIRRORS)
    parser.add_argument("--only", nargs="*", help="names of the corpus to run (default: all)")
    parser.add_argument("--batch", type=int, default=10, help="extensions per Easel start")
    parser.add_argument("--no-browser", action="store_true",
                        help="skip Chromium (no console errors, no element checks)")
    parser.add_argument("--skip-together", action="store_true", help="skip the final start with all of them")
    parser.add_argument("--write-doc", type=Path, help="write the table into this markdown file")
    parser.add_argument("--no-site", action="store_true", help="do not put what install.py would add on PYTHONPATH")
    parser.add_argument("--a1111-packages", nargs="*", default=A1111_PACKAGES,
                        help="packages A1111's environment carries that extensions import without asking for them "
                             "(put in the throwaway folder too; give none to leave them out)")
    parser.add_argument("--work", type=Path, help="folder for the data dirs (default: a new temporary one)")
    args = parser.parse_args(argv)
    entries = [e for e in load_corpus(args.corpus) if not args.only or e.name in args.only]
    work = args.work or Path(tempfile.mkdtemp(prefix="easel-corpus-"))
    site = None if args.no_site else work / "site-packages"
    os.environ.update(DRY_PIP)  # also for the install.py runs of would_install in this process
    before, top_level = installed_versions(), {p.name for p in ROOT.iterdir()}
    rows: list[Row] = []
    page_errors: list[str] = []
    added = prepare_site(entries, args.mirrors, work, site, args.a1111_packages) if site is not None else {}
    if added.get(""):
        print(f"could not fill the throwaway folder: {added['']}")
    with browser_session(not args.no_browser) as browser:
        for start in range(0, len(entries), args.batch):
            try:
                batch, other = run_batch(entries[start:start + args.batch], args.mirrors, work, browser, site, added)
                rows, page_errors = rows + batch, page_errors + other
            except RuntimeError as e:
                rows += [Row(e2.name, e2.kind, problems=[f"Easel did not start: {str(e)[-300:]}"])
                         for e2 in entries[start:start + args.batch]]
        print(table(rows), flush=True)  # before the last start, which may take long
        together = "all together: skipped" if args.skip_together else all_together(entries, args.mirrors, work,
                                                                                    browser, site)
    changed = {k: (v, installed_versions().get(k)) for k, v in before.items() if installed_versions().get(k) != v}
    together = f"{together}\n\nPage errors in the batches that no extension's file explains: " + (
        "".join(f"\n  - {m}" for m in sorted(set(page_errors))) or "none")
    extra = added.get("(A1111 environment)")
    together += f"\n\nPut in the throwaway folder as A1111's environment: {', '.join(extra)}" if extra else ""
    print(f"\n{sum(r.ok for r in rows)} of {len(rows)} pass; {together}")
    print("installed packages unchanged" if not changed else f"INSTALLED PACKAGES CHANGED: {changed}")
    if written := sorted({p.name for p in ROOT.iterdir()} - top_level):  # e.g. tagcomplete's tmp/
        together += f"\n\nExtensions wrote into Easel's install folder: {', '.join(written)}"
        print(f"extensions wrote into {ROOT}: {', '.join(written)} (remove them)")
    if args.write_doc:
        write_doc(args.write_doc, rows, together)
    shutil.rmtree(work, ignore_errors=True) if not args.work else None
    return 0 if not changed else 2


if __name__ == "__main__":
    sys.exit(main())
