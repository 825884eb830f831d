"""The real-size path: a random SD1.5-shaped fp16 file (2.1 GB) loads through ModelManager in bf16 with the right
shapes and a peak memory close to the model's own size. Measured in a child process so the numbers are clean."""
import json
import os
import subprocess
import sys

import pytest

from modules.paths import INSTALL_DIR
from tools.make_full_size_checkpoint import make_full_size_checkpoint

CHILD = r"""
import json, sys, time
from pathlib import Path
import torch
from modules.models.devices import DeviceConfig
from modules.models.hashing import HashCache
from modules.models.manager import ModelManager
from modules.paths import Paths

def memory():
    # resident memory of this process from /proc/self/status, in bytes
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return {k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}

def reset_peak():
    # the high-water mark starts afresh (Linux >= 4.0), so only the load's own peak counts; where that is refused
    # the lifetime peak stands in (it can only be higher)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass

paths = Paths(data_dir=Path(sys.argv[1]))
manager = ModelManager(paths, DeviceConfig(dtype=torch.bfloat16, vae_dtype=torch.bfloat16), HashCache(paths.cache_json))
manager._tokenizer_for()  # tokenizer files are not weights: keep them out of the measurement
before = memory()
reset_peak()
start = time.time()
model = manager.get()
seconds = time.time() - start
after = memory()
count = lambda m: sum(p.numel() for p in m.parameters())
print(json.dumps({
    "unet_params": count(model.unet), "vae_params": count(model.vae), "text_params": count(model.text_encoder),
    "dtypes": sorted({str(p.dtype) for m in (model.unet, model.vae, model.text_encoder) for p in m.parameters()}),
    "model_bytes": model.memory_bytes(), "before": before, "after": after,
    "seconds": seconds, "family": model.family, "shorthash": model.checkpoint.shorthash,
}))
"""


@pytest.mark.slow
def test_full_size_sd15_loads_in_bf16_within_memory_budget(tmp_path, record_property):
    path = make_full_size_checkpoint(tmp_path / "models" / "Stable-diffusion")
    assert 2.0e9 < path.stat().st_size < 2.2e9
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(INSTALL_DIR)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], cwd=INSTALL_DIR, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    before, after = r["before"], r["after"]
    growth = after["VmHWM"] - before["VmRSS"]
    gib = lambda n: f"{n / 2**30:.2f}"  # noqa: E731
    summary = (f"model {gib(r['model_bytes'])} GiB, peak RSS growth {gib(growth)} GiB "
               f"({growth / r['model_bytes']:.2f}x), RSS {gib(before['VmRSS'])} -> {gib(after['VmRSS'])} GiB "
               f"(anonymous {gib(before['RssAnon'])} -> {gib(after['RssAnon'])}, "
               f"file {gib(before['RssFile'])} -> {gib(after['RssFile'])}), {r['seconds']:.1f} s")
    print(summary)
    record_property("full_size_load", summary)
    assert (r["unet_params"], r["vae_params"], r["text_params"]) == (859_520_964, 83_653_863, 123_060_480)
    assert r["dtypes"] == ["torch.bfloat16"] and r["family"] == "sd1" and len(r["shorthash"]) == 10
    assert growth <= 1.3 * r["model_bytes"], summary
