"""A1111's `launch` module (really `modules.launch_utils`), as extensions' install.py scripts use it:
`is_installed(pkg)`, `run_pip(args, desc)`, `run(command, desc, errdesc)`, `run_python`, `requirements_met`,
`git_clone`, `repo_dir`, `python`, `git`, `index_url`, `args`. Imported through the compat aliases as `launch`.

Light on purpose: it runs in the install.py subprocess before anything else, so it imports no torch or gradio.
`run_pip` holds pip to Easel's own package versions (modules/extensions/constraints.py) in every process, also in
the web UI's, where extension scripts call it at import: a requirement that would change one of them fails.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from modules import cli
from modules.extensions.constraints import constrained_env
from modules.paths import INSTALL_DIR


def _parse_args():
    """Easel's flags from COMMANDLINE_ARGS (and from the command line when this is the web UI process)."""
    words = shlex.split(os.environ.get("COMMANDLINE_ARGS", ""))
    if Path(sys.argv[0]).name == "webui.py":
        words += sys.argv[1:]
    try:
        known, _ = cli.build_parser().parse_known_args(words)
    except SystemExit:  # an unparsable COMMANDLINE_ARGS: the defaults, as install scripts only read a few flags
        known, _ = cli.build_parser().parse_known_args([])
    known.skip_install = bool(known.skip_install) or os.environ.get("EASEL_SKIP_INSTALL") == "1"
    return known


args = _parse_args()
cmd_opts = args
python = sys.executable
git = os.environ.get("GIT", "git")
index_url = os.environ.get("INDEX_URL", "")
dir_repos = "repositories"
script_path = str(INSTALL_DIR)
data_path = str(Path(args.data_dir).expanduser().resolve()) if args.data_dir else script_path
extensions_dir = os.path.join(data_path, "extensions")
extensions_builtin_dir = os.path.join(script_path, "extensions-builtin")
skip_install = args.skip_install
default_command_live = os.environ.get("WEBUI_LAUNCH_LIVE_OUTPUT") == "1"
re_requirement = re.compile(r"\s*([-_a-zA-Z0-9]+)\s*(?:==\s*([-+_.a-zA-Z0-9]+))?\s*")


def is_installed(package: str) -> bool:
    """True when a distribution of that name is installed, or failing that, a module of that name is importable."""
    try:
        return importlib.metadata.distribution(package) is not None
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        return importlib.util.find_spec(package) is not None
    except (ModuleNotFoundError, ValueError):
        return False


def run(command, desc=None, errdesc=None, custom_env=None, live: bool = default_command_live) -> str:
    """A shell command; its stdout, or RuntimeError with the command, exit code and output (A1111's message)."""
    if desc is not None:
        print(desc, flush=True)
    kwargs = {"args": command, "shell": isinstance(command, str), "encoding": "utf8", "errors": "ignore",
              "env": os.environ if custom_env is None else custom_env}
    if not live:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    result = subprocess.run(**kwargs)
    if result.returncode != 0:
        bits = [f"{errdesc or 'Error running command'}.", f"Command: {command}", f"Error code: {result.returncode}"]
        if result.stdout:
            bits.append(f"stdout: {result.stdout}")
        if result.stderr:
            bits.append(f"stderr: {result.stderr}")
        raise RuntimeError("\n".join(bits))
    return result.stdout or ""


def run_pip(command: str, desc=None, live: bool = default_command_live):
    """`python -m pip <command> --prefer-binary` with Easel's Python (nothing when skip_install is set), with
    Easel's packages pinned."""
    if skip_install:
        return None
    index = f" --index-url {index_url}" if index_url else ""
    with constrained_env() as env:
        return run(f'"{python}" -m pip {command} --prefer-binary{index}', desc=f"Installing {desc}",
                   errdesc=f"Couldn't install {desc}", custom_env=env, live=live)


def run_python(code: str, desc=None, errdesc=None) -> str:
    return run(f'"{python}" -c "{code}"', desc, errdesc)


def check_run_python(code: str) -> bool:
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def requirements_met(requirements_file) -> bool:
    """Every `pkg==version` line of the file is installed at exactly that version (A1111's check)."""
    from packaging.version import parse

    with open(requirements_file, encoding="utf8") as file:
        for line in file:
            if not line.strip() or line.strip().startswith("#"):
                continue
            match = re.match(re_requirement, line)
            if match is None:
                return False
            package, wanted = match.group(1).strip(), (match.group(2) or "").strip()
            if not wanted:
                continue
            try:
                if parse(importlib.metadata.version(package)) != parse(wanted):
                    return False
            except Exception:
                return False
    return True


def repo_dir(name: str) -> str:
    return os.path.join(script_path, dir_repos, name)


def git_clone(url: str, dir: str, name: str, commithash: str | None = None) -> None:
    """Clone `url` into `dir` unless it is there; then check out `commithash` when given."""
    if not os.path.exists(dir):
        run(f'"{git}" clone --config core.filemode=false "{url}" "{dir}"', f"Cloning {name} into {dir}...",
            f"Couldn't clone {name}", live=True)
    if commithash is not None:
        current = run(f'"{git}" -C "{dir}" rev-parse HEAD', None, f"Couldn't determine {name}'s hash").strip()
        if current != commithash:
            run(f'"{git}" -C "{dir}" fetch', f"Fetching updates for {name}...", f"Couldn't fetch {name}", live=True)
            run(f'"{git}" -C "{dir}" checkout {commithash}', f"Checking out commit for {name} with hash: {commithash}",
                f"Couldn't checkout commit {commithash} for {name}", live=True)


def commit_hash() -> str:
    try:
        return subprocess.check_output([git, "-C", script_path, "rev-parse", "HEAD"], text=True).strip()
    except Exception:
        return "<none>"


A1111_TAG = "v1.10.1"


def git_tag() -> str:
    """The A1111 release whose interface Easel gives extensions. They parse this tag to pick code paths for A1111's
    versions (sd-webui-supermerger names a merged model only from 1.5 on, and tells Forge by an "f" tag); Easel's own
    version, or git's complaint about a checkout without tags, would send them down a wrong path."""
    return A1111_TAG
