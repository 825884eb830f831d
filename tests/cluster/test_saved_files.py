"""Files a worker saved reach the API server's data dir (modules/cluster/saved_files.py), without Ray: a worker on
another disk, a shared disk (nothing rewritten), a name already taken by other bytes, a file outside the data dir."""
from __future__ import annotations

from pathlib import Path

from modules.cluster.saved_files import WorkerOutcome, collect, place
from modules.pipeline.result import GenerationResult


def result_with(paths: list[Path], grid: Path | None = None) -> GenerationResult:
    return GenerationResult(images=[None] * len(paths), infotexts=[], all_prompts=[], all_negative_prompts=[],
                            all_seeds=[], all_subseeds=[], info={}, saved_paths=list(paths), grid_path=grid)


def saved(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_remote_workers_files_land_in_the_servers_outputs(tmp_path):
    worker, server = tmp_path / "worker", tmp_path / "server"
    image = saved(worker, "outputs/txt2img-images/2026-12-06/00000-1.png", b"png one")
    grid = saved(worker, "outputs/txt2img-grids/2026-12-06/grid-0000.png", b"grid")
    result = place(WorkerOutcome(result_with([image], grid), collect(result_with([image], grid), worker)), server)
    assert result.saved_paths == [server / "outputs/txt2img-images/2026-12-06/00000-1.png"]
    assert result.grid_path == server / "outputs/txt2img-grids/2026-12-06/grid-0000.png"
    assert result.saved_paths[0].read_bytes() == b"png one" and result.grid_path.read_bytes() == b"grid"
    assert not list(server.rglob(".*.partial"))


def test_a_shared_disk_is_left_as_it_is(tmp_path):
    image = saved(tmp_path, "outputs/a.png", b"same")
    before = image.stat().st_mtime_ns
    result = place(WorkerOutcome(result_with([image]), collect(result_with([image]), tmp_path)), tmp_path)
    assert result.saved_paths == [image] and image.stat().st_mtime_ns == before
    assert [p.name for p in (tmp_path / "outputs").iterdir()] == ["a.png"]


def test_a_taken_name_is_never_overwritten(tmp_path):
    worker, server = tmp_path / "worker", tmp_path / "server"
    image = saved(worker, "outputs/00001-7.png", b"from the worker")
    saved(server, "outputs/00001-7.png", b"the server's own image")
    result = place(WorkerOutcome(result_with([image]), collect(result_with([image]), worker)), server)
    assert (server / "outputs/00001-7.png").read_bytes() == b"the server's own image"
    assert result.saved_paths == [server / "outputs/00001-7-1.png"]
    assert result.saved_paths[0].read_bytes() == b"from the worker"


def test_a_file_outside_the_data_dir_stays_where_the_user_put_it(tmp_path):
    worker, server = tmp_path / "worker", tmp_path / "server"
    elsewhere = saved(tmp_path, "batch-out/x.png", b"batch")
    outcome = WorkerOutcome(result_with([elsewhere]), collect(result_with([elsewhere]), worker))
    assert outcome.files == ()
    assert place(outcome, server).saved_paths == [elsewhere] and not server.exists()
