"""Benchmark: seconds from `python webui.py` starting to the page answering, with no model loaded until needed.

Starts Easel on a free port over a fresh data dir (with a tiny checkpoint, so the model list is not empty), polls
`/` until it answers 200, and prints the time; repeats and prints the median. Also prints the server's resident
memory once it answers (a loaded model would show up here) and, with --imports, the slowest imports.

    .venv/bin/python bench/ui_startup.py [--runs 3] [--imports]

Target on the reference machine: under 5 s.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run(data_dir: Path, extra: list[str], timeout: float = 120.0) -> tuple[float, float, str]:
    port = free_port()
    env = {**os.environ, "COMMANDLINE_ARGS": ""}
    with tempfile.TemporaryFile(mode="w+") as log:  # a file, not a pipe: -X importtime writes more than a pipe holds
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, *extra, str(ROOT / "webui.py"), "--data-dir", str(data_dir),
                                    "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=log, text=True)
        try:
            while time.perf_counter() - start < timeout:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"webui.py exited early: {log.read()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                        if response.status == 200:
                            return time.perf_counter() - start, rss_mb(process.pid), ""
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("the page did not answer in time")
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.seek(0)
            if extra:
                print_imports(log.read())


def print_imports(stderr: str, top: int = 12) -> None:
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = [p.strip() for p in line[len("import time:"):].split("|")]
            if parts[1].isdigit():
                rows.append((int(parts[1]), parts[2]))
    print("slowest imports (cumulative, s):")
    for micros, name in sorted(rows, reverse=True)[:top]:
        print(f"  {micros / 1e6:6.2f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--imports", action="store_true", help="also print the slowest imports of one run")
    args = parser.parse_args()
    from tests.fixtures.tiny_model import make_tiny_checkpoint

    with tempfile.TemporaryDirectory(prefix="easel-bench-ui-") as tmp:
        data = Path(tmp)
        make_tiny_checkpoint(data / "models" / "Stable-diffusion")
        times = []
        for i in range(args.runs):
            seconds, rss, _ = one_run(data, [])
            times.append(seconds)
            print(f"run {i + 1}: page answered after {seconds:.2f} s (server RSS {rss:.0f} MB)")
        print(f"ui_startup: median {statistics.median(times):.2f} s over {args.runs} runs "
              f"(target < 5 s; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
        if args.imports:
            one_run(data, ["-X", "importtime"])


if __name__ == "__main__":
    main()
