"""Helpers for the extension tests: real git repositories made in tmp_path, and an install folder + data dir."""
from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from modules import cli
from modules.options import Options
from modules.paths import Paths

GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid", "GIT_COMMITTER_NAME": "Test",
           "GIT_COMMITTER_EMAIL": "test@example.invalid", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1"}


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, env={**os.environ, **GIT_ENV}, capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def write_files(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        file = folder / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")


def make_repo(parent: Path, name: str, files: dict[str, str], branch: str = "main") -> Path:
    """A git repository `parent/name` with `files` committed on `branch`."""
    repo = parent / name
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", branch)
    write_files(repo, files or {"README.md": name})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{name}: first commit")
    return repo


def commit(repo: Path, files: dict[str, str], text: str = "change") -> str:
    write_files(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", text)
    return git(repo, "rev-parse", "HEAD")


def url(repo: Path) -> str:
    return repo.resolve().as_uri()


def make_ext(base: Path, name: str, files: dict[str, str] | None = None) -> Path:
    """A plain extension folder (no git) under `base` (an extensions or extensions-builtin folder)."""
    folder = base / name
    folder.mkdir(parents=True)
    write_files(folder, files or {})
    return folder


def make_paths(tmp_path: Path) -> Paths:
    install, data = tmp_path / "install", tmp_path / "data"
    (install / "extensions-builtin").mkdir(parents=True, exist_ok=True)
    (data / "extensions").mkdir(parents=True, exist_ok=True)
    return Paths(data_dir=data, install_dir=install)


def make_flags(*words: str) -> argparse.Namespace:
    return cli.parse_args(list(words), env={})


def make_options(paths: Paths) -> Options:
    return Options(paths.config_json)
