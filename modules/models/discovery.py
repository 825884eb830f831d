"""Finding checkpoints and VAE files on disk, and which VAE the `sd_vae` setting means.

Checkpoints: `**/*.safetensors|*.ckpt` under each checkpoint folder, `*.vae.*` excluded, plus `--ckpt` files.
VAEs: `models/VAE/**/*.{safetensors,ckpt,pt}` and `*.vae.*` beside checkpoints. Folders are walked following
symlinks, because users link model folders in from other installs.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from modules.errors import NotFound
from modules.models.hashing import short_hash
from modules.paths import Paths

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
VAE_SUFFIXES = (".safetensors", ".ckpt", ".pt")
VAE_AUTOMATIC = "Automatic"
VAE_NONE = "None"


@dataclass(frozen=True)
class CheckpointInfo:
    """One checkpoint file. `name` is its path relative to its model folder, with forward slashes."""

    path: Path
    name: str
    config_path: Path | None = None
    sha256: str | None = None

    @property
    def model_name(self) -> str:
        """File name without extension: the infotext's `Model`."""
        return Path(self.name).name.rsplit(".", 1)[0]

    @property
    def shorthash(self) -> str:
        return short_hash(self.sha256)

    @property
    def title(self) -> str:
        """`<name> [<shorthash>]` once the hash is known, else `<name>` (A1111's title).

        >>> CheckpointInfo(Path("/m/sub/a.safetensors"), "sub/a.safetensors", sha256="ab" * 32).title
        'sub/a.safetensors [ababababab]'
        """
        return f"{self.name} [{self.shorthash}]" if self.shorthash else self.name

    def with_hash(self, sha256: str | None) -> CheckpointInfo:
        return replace(self, sha256=sha256)


@dataclass(frozen=True)
class VaeInfo:
    """One VAE file; `name` is its file name, which is what the `sd_vae` setting and the infotext hold."""

    path: Path
    name: str


def walk_files(root: Path) -> list[Path]:
    """All files under `root`, sorted, following symlinked folders; a missing folder has none."""
    if not root.is_dir():
        return []
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        found.extend(Path(folder) / f for f in sorted(files))
    return found


def is_vae_file_name(name: str) -> bool:
    """`x.vae.pt`, `x.vae.safetensors` … are VAEs even in the checkpoint folder.

    >>> is_vae_file_name("anything.vae.safetensors"), is_vae_file_name("model.safetensors")
    (True, False)
    """
    return ".vae." in name.lower()


def config_beside(path: Path) -> Path | None:
    """The same-name `.yaml` next to a checkpoint, which wins over detection."""
    yaml = path.with_suffix(".yaml")
    return yaml if yaml.is_file() else None


def _checkpoint(path: Path, root: Path | None) -> CheckpointInfo:
    name = path.relative_to(root).as_posix() if root is not None else path.name
    return CheckpointInfo(path=path, name=name, config_path=config_beside(path))


def find_checkpoints(dirs: Sequence[Path], extra_files: Iterable[Path] = ()) -> list[CheckpointInfo]:
    """Checkpoints in `dirs` (sorted by name, case-insensitively) after the `--ckpt` files, each file once."""
    seen: set[Path] = set()
    extras, found = [], []
    for path in extra_files:
        path = Path(path)
        if path.is_file() and path.resolve() not in seen:
            seen.add(path.resolve())
            extras.append(_checkpoint(path, None))
    for root in dirs:
        for path in walk_files(Path(root)):
            if path.suffix.lower() not in CHECKPOINT_SUFFIXES or is_vae_file_name(path.name):
                continue
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            found.append(_checkpoint(path, Path(root)))
    return extras + sorted(found, key=lambda c: c.name.lower())


def find_vaes(vae_dir: Path, checkpoint_dirs: Sequence[Path]) -> list[VaeInfo]:
    """VAE files, named by file name; when two share a name the first found (VAE folder first) wins."""
    candidates = [p for p in walk_files(Path(vae_dir)) if p.suffix.lower() in VAE_SUFFIXES]
    for root in checkpoint_dirs:
        candidates += [p for p in walk_files(Path(root))
                       if is_vae_file_name(p.name) and p.suffix.lower() in VAE_SUFFIXES]
    by_name: dict[str, VaeInfo] = {}
    for path in candidates:
        by_name.setdefault(path.name, VaeInfo(path=path, name=path.name))
    return sorted(by_name.values(), key=lambda v: v.name.lower())


def find_checkpoints_in(paths: Paths) -> list[CheckpointInfo]:
    return find_checkpoints(paths.checkpoint_dirs, paths.extra_checkpoint_files)


def find_vaes_in(paths: Paths) -> list[VaeInfo]:
    return find_vaes(paths.vae_dir, paths.checkpoint_dirs)


def resolve_vae(choice: str, checkpoint: CheckpointInfo, vaes: Sequence[VaeInfo]) -> VaeInfo | None:
    """The VAE file the `sd_vae` setting selects for `checkpoint`; None means the checkpoint's own (baked-in) VAE.

    "Automatic": a VAE whose file name starts with the checkpoint's model name, else baked-in; "None": baked-in;
    otherwise a VAE file name (with or without extension).
    """
    if choice in (VAE_NONE, "", None):
        return None
    if choice == VAE_AUTOMATIC:
        return next((v for v in vaes if v.name.startswith(checkpoint.model_name)), None)
    for vae in vaes:
        if choice in (vae.name, vae.name.rsplit(".", 1)[0]):
            return vae
    valid = [VAE_AUTOMATIC, VAE_NONE, *(v.name for v in vaes)]
    raise NotFound(f"sd_vae: unknown VAE {choice!r} (valid: {', '.join(valid)})")
