"""The few git operations the extension manager needs, through the `git` command (no library): read a folder's
commit, branch and remote; clone; fetch and compare with upstream; fast-forward pull.

git never prompts here (no terminal, no credential or host-key questions): a private or missing repository fails
at once with git's own message instead of hanging the UI.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from modules.errors import EaselError

CLONE_TIMEOUT_S = 600
FETCH_TIMEOUT_S = 60
LOCAL_TIMEOUT_S = 20

# what may be cloned: the network protocols git users paste, scp-like `user@host:path`, and local repositories
_URL = re.compile(r"^(https?|ssh|git|file)://\S+$|^[\w.-]+@[\w.-]+:\S+$")


class GitError(EaselError):
    """A git command failed; the message holds the command's purpose and git's own last lines."""


@dataclass(frozen=True)
class RepoInfo:
    """What the Extensions tab and /sdapi/v1/extensions show for a folder (all None when it is no repository)."""

    remote: str | None = None
    branch: str | None = None
    commit_hash: str | None = None  # full sha1
    commit_date: int | None = None  # unix time of the commit

    @property
    def version(self) -> str | None:
        """A1111's `version`: the short commit hash."""
        return self.commit_hash[:8] if self.commit_hash else None


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"  # no username/password prompt for a missing https repository
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")  # no host-key or passphrase prompt
    env["LC_ALL"] = env["LANG"] = "C"  # messages we can show and parse
    return env


def tail(text: str, lines: int = 12, chars: int = 2000) -> str:
    """The last lines of a command's output, for messages.

    >>> tail("a\\nb\\nc\\n", lines=2)
    'b\\nc'
    """
    return "\n".join(text.strip().splitlines()[-lines:])[-chars:]


def run_git(args: list[str], cwd: Path | None = None, timeout: float = LOCAL_TIMEOUT_S, what: str = "git") -> str:
    """Run `git args` and return its stdout; GitError with git's message when it fails or takes too long."""
    if shutil.which("git") is None:
        raise GitError("git is not installed: install git to install or update extensions")
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True,
                              errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GitError(f"{what}: git did not finish within {timeout:.0f} s (network down?)") from None
    if done.returncode != 0:
        raise GitError(f"{what} failed: {tail(done.stderr or done.stdout) or f'exit code {done.returncode}'}")
    return done.stdout


def is_repository(folder: Path) -> bool:
    return (folder / ".git").exists()


def repo_info(folder: Path) -> RepoInfo:
    """Remote URL, branch, commit and its date; an empty RepoInfo for a plain folder or a broken repository."""
    if not is_repository(folder):
        return RepoInfo()
    try:
        head = run_git(["log", "-1", "--format=%H %ct"], folder).split()
        branch = run_git(["rev-parse", "--abbrev-ref", "HEAD"], folder).strip()
    except GitError:
        return RepoInfo()
    try:
        remote = run_git(["config", "--get", "remote.origin.url"], folder).strip() or None
    except GitError:  # no remote called origin
        remote = None
    return RepoInfo(remote=remote, branch=None if branch == "HEAD" else branch,
                    commit_hash=head[0] if head else None, commit_date=int(head[1]) if len(head) > 1 else None)


def head_commit(folder: Path) -> str | None:
    if not is_repository(folder):
        return None
    try:
        return run_git(["rev-parse", "HEAD"], folder).strip() or None
    except GitError:
        return None


def check_url(url: str) -> str:
    """A URL git may clone, stripped; GitError naming what is accepted otherwise.

    >>> check_url(" https://github.com/a/b.git ")
    'https://github.com/a/b.git'
    >>> check_url("--upload-pack=touch x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    modules.extensions.git.GitError: not a git URL: '--upload-pack=touch x' (use https://…, ssh://…, ...)
    """
    url = url.strip()
    if not _URL.match(url) or url.startswith("-"):
        raise GitError(f"not a git URL: {url!r} (use https://…, ssh://…, git@host:path or file://…)")
    return url


def clone(url: str, dest: Path, branch: str | None = None, timeout: float = CLONE_TIMEOUT_S) -> None:
    """`git clone` (with submodules) of `url` into the new folder `dest`."""
    args = ["clone", "--recurse-submodules"] + (["--branch", branch] if branch else []) + ["--", url, str(dest)]
    run_git(args, None, timeout, what=f"git clone {url}" + (f" (branch {branch})" if branch else ""))


def upstream_status(folder: Path, timeout: float = FETCH_TIMEOUT_S) -> tuple[bool, str]:
    """`git fetch`, then compare HEAD with its upstream: (update available, what to tell the user)."""
    if not is_repository(folder):
        return False, "not a git repository"
    run_git(["fetch", "--quiet"], folder, timeout, what="git fetch")
    try:
        upstream = run_git(["rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}"], folder).strip()
    except GitError:
        return False, "no upstream branch to compare with (detached HEAD or local branch)"
    counts = run_git(["rev-list", "--left-right", "--count", f"HEAD...{upstream}"], folder).split()
    ahead, behind = int(counts[0]), int(counts[1])
    if behind:
        return True, f"behind {upstream} by {behind} commit{'s' if behind != 1 else ''}"
    return False, "latest" + (f" (ahead of {upstream} by {ahead})" if ahead else "")


def pull(folder: Path, timeout: float = CLONE_TIMEOUT_S) -> str:
    """`git pull --ff-only` (with submodules); returns git's summary line."""
    if not is_repository(folder):
        raise GitError(f"{folder.name} is not a git repository: it cannot be updated")
    out = run_git(["pull", "--ff-only", "--recurse-submodules"], folder, timeout, what=f"git pull in {folder.name}")
    return tail(out, lines=1) or "updated"
