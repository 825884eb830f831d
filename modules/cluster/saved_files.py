"""Files a worker saved (images, grids) travel back with the job's result and are written into the API server's
data dir, so that a multi-node cluster keeps every output where the user looks: the server's `outputs/`.

On a local cluster the worker and the server share one data dir; the bytes are then already in place and nothing is
written twice. Only files under the worker's data dir travel (an img2img batch's own output folder, given as an
absolute path, stays on the worker's machine, as a path the user named there). See docs/cluster.md.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SavedFile:
    """One saved file: where the worker saved it, that path relative to the worker's data dir, and its bytes."""
    original: Path
    relative: PurePosixPath
    data: bytes


@dataclass(frozen=True)
class WorkerOutcome:
    """What a worker sends back for a finished job: the result object and the files it saved."""
    result: Any  # GenerationResult, ExtrasResult, or whatever the job kind returns
    files: tuple[SavedFile, ...]


def saved_paths_of(result: Any) -> list[Path]:
    """Every path the result says it saved: `saved_paths`, then `grid_path` when set."""
    paths = [Path(p) for p in getattr(result, "saved_paths", None) or () if p is not None]
    grid = getattr(result, "grid_path", None)
    return paths + ([Path(grid)] if grid is not None else [])


def relative_to(path: Path, root: Path) -> PurePosixPath | None:
    """`path` relative to `root` as a POSIX path, or None when it lies outside (or climbs out with `..`).

    >>> relative_to(Path("/d/outputs/a.png"), Path("/d"))
    PurePosixPath('outputs/a.png')
    >>> relative_to(Path("/elsewhere/a.png"), Path("/d")) is None
    True
    """
    try:
        rel = Path(os.path.normpath(path)).relative_to(os.path.normpath(root))
    except ValueError:
        return None
    return PurePosixPath(rel.as_posix()) if ".." not in rel.parts else None


def collect(result: Any, data_dir: Path) -> tuple[SavedFile, ...]:
    """The saved files of `result` that lie under `data_dir`, read for the trip to the server."""
    files = []
    for path in saved_paths_of(result):
        rel = relative_to(path, data_dir)
        if rel is None or not path.is_file():
            log.info("saved file %s stays on this worker (outside its data dir)", path)
            continue
        files.append(SavedFile(path, rel, path.read_bytes()))
    return tuple(files)


def place(outcome: WorkerOutcome, data_dir: Path) -> Any:
    """Write the outcome's files under the server's `data_dir` and point the result's paths at them.

    A file already there with the same bytes is kept (shared disk); a different file of that name is never
    overwritten: the new one gets a free name beside it (`name-1.png`, …)."""
    moved = {saved.original: _write(data_dir / Path(saved.relative), saved.data) for saved in outcome.files}
    result = outcome.result
    if getattr(result, "saved_paths", None):
        result.saved_paths = [moved.get(Path(p), p) if p is not None else None for p in result.saved_paths]
    if getattr(result, "grid_path", None) is not None:
        result.grid_path = moved.get(Path(result.grid_path), result.grid_path)
    return result


def _write(target: Path, data: bytes) -> Path:
    """`data` at `target` (or a free name beside it), written whole or not at all."""
    for n in range(10_000):
        candidate = target if n == 0 else target.with_name(f"{target.stem}-{n}{target.suffix}")
        if candidate.exists():
            if candidate.read_bytes() == data:
                return candidate
            continue
        candidate.parent.mkdir(parents=True, exist_ok=True)
        partial = candidate.with_name(f".{candidate.name}.partial")
        partial.write_bytes(data)
        os.replace(partial, candidate)
        return candidate
    raise FileExistsError(f"no free name beside {target}")
