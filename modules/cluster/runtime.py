"""Connecting to Ray: a local cluster for `--workers N`, an existing one for `--ray-address`, and `--worker` nodes.

Ray is imported only here and only when a cluster flag is given; without one Easel runs as a single process.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from modules.errors import EaselError

CLUSTER_FLAGS = {"--workers": 1, "--ray-address": 1, "--worker": 0}  # flag → how many values follow it
NAMESPACE = "easel"


class ClusterUnavailable(EaselError):
    """Ray is missing, or the cluster at --ray-address does not answer."""


def worker_argv(argv: list[str]) -> list[str]:
    """The server's command line for its workers: the same flags, less the cluster's own.

    >>> worker_argv(["--data-dir", "d", "--workers", "2", "--ray-address=x:1", "--worker", "--no-hashing"])
    ['--data-dir', 'd', '--no-hashing']
    """
    out, skip = [], 0
    for word in argv:
        if skip:
            skip -= 1
            continue
        name = word.split("=", 1)[0]
        if name in CLUSTER_FLAGS:
            skip = CLUSTER_FLAGS[name] if "=" not in word else 0
            continue
        out.append(word)
    return out


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterUnavailable("the cluster flags need Ray: bash webui.sh installs it (requirements-cluster.txt) "
                                 "when --workers, --ray-address or --worker is given") from None
    return ray


def connect(workers: int | None, address: str | None, root: Path) -> None:
    """ray.init for the server: its own local cluster with `workers` worker slots, or the one at `address`."""
    ray = import_ray()
    if address:
        problem = unreachable(address)
        if problem:
            raise ClusterUnavailable(f"--ray-address {address} does not answer ({problem}); Easel did not start")
        try:
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
        except Exception as e:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError or its own types
            raise ClusterUnavailable(f"--ray-address {address} does not answer ({type(e).__name__}: {e}); "
                                     "Easel did not start") from None
        return
    env = {"PYTHONPATH": os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH"))))}
    # address="local": always a new cluster of our own, never one that happens to run on this machine
    ray.init(address="local", num_cpus=os.cpu_count() or 1, resources={"easel_worker": int(workers or 1)},
             namespace=NAMESPACE, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})


def unreachable(address: str, timeout_s: float = 5.0) -> str | None:
    """Why the Ray head at HOST:PORT cannot be reached (checked with a plain TCP connect: ray.init itself keeps
    retrying for minutes), or None when it answers.

    >>> unreachable("no-port-here")
    "expected HOST:PORT, got 'no-port-here'"
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return f"expected HOST:PORT, got {address!r}"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return None
    except OSError as e:
        return f"{type(e).__name__}: {e}"


def local_threads(workers: int) -> int:
    """CPU threads of each local worker: the cores split between them (one at least)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def gpu_count() -> int:
    """GPUs on this machine, counted without importing torch (nvidia-smi), 0 when there is none."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def run_worker_node(address: str, workers: int | None, root: Path) -> int:
    """`--worker`: join the cluster at `address` as a node offering `workers` Easel workers (one per GPU, else 1),
    and stay until stopped. Its workers import this checkout (PYTHONPATH), so its Easel version is this one's."""
    import_ray()
    count = workers or gpu_count() or 1
    ray_cli = Path(sys.executable).with_name("ray")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH"))))}
    command = [str(ray_cli), "start", f"--address={address}", f"--resources={json.dumps({'easel_worker': count})}",
               "--block"]
    print(f"easel: joining the Ray cluster at {address} with {count} Easel worker(s)", flush=True)
    return subprocess.call(command, env=env, cwd=str(root))
