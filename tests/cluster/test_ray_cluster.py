"""The queue on a real local Ray cluster (ray.cluster_utils.Cluster: a head and worker nodes on this machine), with
the built-in model: same pixels as a single-process run, nothing lost or doubled when a worker is killed, a node
added mid-run gets work, and model affinity (docs/cluster.md)."""
from __future__ import annotations

import os
import shutil
import signal
import time
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

import webui  # noqa: E402
from modules import cli  # noqa: E402
from modules.cluster.dispatcher import ClusterDispatcher  # noqa: E402
from modules.cluster.remote_slot import RemoteSlot  # noqa: E402
from modules.paths import INSTALL_DIR  # noqa: E402
from modules.pipeline.request import GenerationRequest  # noqa: E402

pytestmark = pytest.mark.slow
BUILTIN = INSTALL_DIR / "models" / "Stable-diffusion"


def data_dir(tmp_path, names):
    target = tmp_path / "models" / "Stable-diffusion"
    target.mkdir(parents=True)
    for name in names:
        for file in BUILTIN.glob(name + ".*"):
            shutil.copy(file, target / f"{name.replace('easel-builtin', 'copy')}{file.suffix}")
    return tmp_path


def request(n: int, checkpoint: str | None = None) -> GenerationRequest:
    overrides = {"sd_model_checkpoint": checkpoint} if checkpoint else {}
    return GenerationRequest(prompt=f"a red circle {n}", seed=1000 + n, steps=4, width=64, height=64,
                             override_settings=overrides)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head (no Easel worker) and two worker nodes of one CPU each, and an App whose jobs run on them."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        cluster.add_node(num_cpus=1, resources={"easel_worker": 1})
    ray.init(address=cluster.address, namespace="easel-test", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(INSTALL_DIR)}})
    path = data_dir(tmp_path_factory.mktemp("cluster"), ("easel-builtin", "easel-builtin-inpainting"))
    app = cluster_app(path)
    yield cluster, app, path
    app.cluster.stop()
    app.jobs.close()
    ray.shutdown()
    cluster.shutdown()


def cluster_app(path, wait_workers: int = 2, timeout: float = 600.0):
    app = webui.build_app(cli.parse_args(ARGV(path), env={}))
    app.jobs.remove_slot("local")
    app.cluster = ClusterDispatcher(app.jobs, ARGV(path), app.snapshot_for, app.paths.data_dir, threads=1)
    app.cluster.start()
    app.jobs.start()
    wait_for(lambda: len(remote_slots(app)) >= wait_workers, timeout, "the cluster's workers did not start")
    return app


def ARGV(path):  # noqa: N802 - the workers' and the server's command line
    return ["--data-dir", str(path), "--precision", "full", "--no-hashing"]


def wait_for(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def remote_slots(app) -> list[RemoteSlot]:
    return [s for s in app.jobs.slots() if isinstance(s, RemoteSlot)]


def pixels(results) -> list[np.ndarray]:
    return [np.asarray(r.images[0]) for r in results]


def single_process(path, requests):
    import torch

    app = webui.build_app(cli.parse_args(ARGV(path), env={}), worker=True)  # worker: no second jobs.sqlite
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each worker: the same reductions, so the same float results
    try:
        return [app.txt2img(r) for r in requests]
    finally:
        torch.set_num_threads(threads)
        app.jobs.close()


def wait_all(app, jobs, timeout=600.0):
    for job in jobs:
        assert app.jobs.wait(job.id, timeout), f"job {job.id} did not finish"
    return [app.jobs.result(job.id) for job in jobs]


def test_two_checkpoints_stay_on_the_worker_holding_them(cluster):
    _, app, _ = cluster
    names = ["copy", "copy-inpainting"]
    jobs = [app.jobs.submit("txt2img", request(n, names[n % 2])) for n in range(16)]
    outcomes = wait_all(app, jobs)
    by_model: dict[str, set] = {}
    for record, _ in outcomes:
        by_model.setdefault(record.model, set()).add(record.worker)
    slots = remote_slots(app)
    assert all(slot.ping() for slot in slots)
    assert all(len(workers) == 1 for workers in by_model.values()), by_model
    assert sorted(slot.info["loads"] for slot in slots) == [1, 1]  # each loaded its model once, no thrashing


def test_jobs_over_two_workers_match_one_process_and_survive_a_killed_worker(cluster):
    _, app, path = cluster
    requests = [request(n, "copy") for n in range(40)]
    jobs = [app.jobs.submit("txt2img", r) for r in requests]
    victim = None
    while victim is None:  # kill -9 a worker while it runs a job
        victim = next((s for s in remote_slots(app) if s.running), None)
        time.sleep(0.02)
    os.kill(victim.info["pid"], signal.SIGKILL)
    outcomes = wait_all(app, jobs)
    records = [record for record, _ in outcomes]
    assert [r.status for r in records] == ["done"] * 40  # 0 lost
    assert all(len(pngs) == 1 for _, pngs in outcomes)  # 0 duplicated: one image per job, stored once
    got = [np.asarray(Image.open(BytesIO(pngs[0])).convert("RGB")) for _, pngs in outcomes]
    want = pixels(single_process(path, requests))
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    wait_for(lambda: len(remote_slots(app)) == 2, 600, "the killed worker was not replaced")


def test_a_node_added_mid_run_gets_jobs(cluster):
    ray_cluster, app, _ = cluster
    before = {slot.name for slot in remote_slots(app)}
    first = [app.jobs.submit("txt2img", request(n, "copy")) for n in range(10)]
    ray_cluster.add_node(num_cpus=1, resources={"easel_worker": 1})
    wait_for(lambda: len(remote_slots(app)) == 3, 600, "no worker started on the new node")
    new = {slot.name for slot in remote_slots(app)} - before
    later = [app.jobs.submit("txt2img", request(n, "copy")) for n in range(10, 22)]
    outcomes = wait_all(app, first + later)
    assert all(record.status == "done" for record, _ in outcomes)
    assert new & {record.worker for record, _ in outcomes}, "the new node's worker ran no job"
