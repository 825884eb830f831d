"""Safe loading: our safetensors reader, the restricted unpickler, and clear errors naming the file."""
import collections
import json
import os
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from modules.errors import ModelLoadError, UnsafeCheckpoint
from modules.models.safe_load import LazyStateDict, PickleSource, open_checkpoint
from modules.models.safetensors_io import SafetensorsFile, tensor_shapes, write_safetensors


class Payload:
    """A pickle that would run a shell command when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def tensors():
    g = torch.Generator().manual_seed(0)
    return {
        "a.f32": torch.randn(3, 5, generator=g),
        "b.f16": torch.randn(7, generator=g).half(),
        "c.bf16": torch.randn(2, 2, 2, generator=g).bfloat16(),
        "d.i64": torch.arange(77)[None],
        "e.scalar": torch.tensor(1.5),
        "f.empty": torch.zeros(0, 4),
        "g.bool": torch.tensor([True, False, True]),
    }


def test_reader_matches_the_reference_writer(tmp_path, tensors):
    path = tmp_path / "x.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt"})
    with SafetensorsFile(path) as f:
        assert sorted(f.keys()) == sorted(tensors) and f.metadata == {"format": "pt"}
        for key, value in tensors.items():
            got = f.read(key)
            assert got.dtype == value.dtype and torch.equal(got, value), key
        assert f.read("b.f16", torch.bfloat16).dtype == torch.bfloat16
        assert f.read("d.i64", torch.bfloat16).dtype == torch.int64  # only floats are converted


def test_streaming_writer_is_readable_by_safetensors(tmp_path, tensors):
    from safetensors.torch import load_file

    path = tmp_path / "w.safetensors"
    write_safetensors(path, tensor_shapes(tensors.items()), lambda k: tensors[k], {"by": "easel"})
    loaded = load_file(str(path))
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())


def test_lazy_mapping_reads_only_what_is_asked(tmp_path, tensors):
    path = tmp_path / "x.safetensors"
    save_file(tensors, str(path))
    reads = []
    with SafetensorsFile(path) as f:
        original_read = f.read
        f.read = lambda key, *a: reads.append(key) or original_read(key, *a)
        view = LazyStateDict(f, torch.float16, prefix="a")
        assert "a.f32" in view and "b.f16" not in view and len(view) == 1
        assert view.meta()["a.f32"].shape == (3, 5) and reads == []
        assert view["a.f32"].dtype == torch.float16 and reads == ["a.f32"]


def _write_raw(path, header, data=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


@pytest.mark.parametrize("case, match", [
    ("truncated", "past the end of the file"),
    ("short", "too short"),
    ("bad_json", "bad safetensors header"),
    ("huge_header", "header runs past the end"),
    ("unknown_dtype", "unknown dtype 'F13'"),
    ("wrong_size", "offsets span"),
])
def test_corrupt_safetensors_errors_name_the_file(tmp_path, tensors, case, match):
    path = tmp_path / f"{case}.safetensors"
    if case == "truncated":
        save_file(tensors, str(path))
        path.write_bytes(path.read_bytes()[:-10])
    elif case == "short":
        path.write_bytes(b"\x01\x02")
    elif case == "bad_json":
        path.write_bytes(struct.pack("<Q", 5) + b"{nope")
    elif case == "huge_header":
        path.write_bytes(struct.pack("<Q", 10_000) + b"{}")
    elif case == "unknown_dtype":
        _write_raw(path, {"x": {"dtype": "F13", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4)
    else:
        _write_raw(path, {"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(ModelLoadError, match=match) as err:
        open_checkpoint(path)
    assert str(path) in str(err.value)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(ModelLoadError, match="file not found") as err:
        open_checkpoint(tmp_path / "gone.safetensors")
    assert "gone.safetensors" in str(err.value)
    with pytest.raises(ModelLoadError, match="not found"):
        open_checkpoint(tmp_path / "gone.ckpt")
    with pytest.raises(ModelLoadError, match="unknown weights format '.gguf'"):
        open_checkpoint(tmp_path / "x.gguf")


@pytest.mark.parametrize("fmt", ["torch_zip", "raw_pickle"])
def test_malicious_ckpt_is_refused_and_nothing_runs(tmp_path, fmt):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    payload = {"state_dict": {"w": torch.zeros(2)}, "x": Payload(marker)}
    if fmt == "torch_zip":
        torch.save(payload, path)
    else:  # a bare pickle (what torch.load's legacy path reads first)
        path.write_bytes(pickle.dumps({"x": Payload(marker)}))
    with pytest.raises(UnsafeCheckpoint, match="posix.system|os.system|nt.system") as err:
        open_checkpoint(path)
    assert str(path) in str(err.value) and "not allowed" in str(err.value)
    assert not marker.exists()


def test_legit_ckpt_loads_and_unwraps_state_dict(tmp_path):
    state = collections.OrderedDict(w=torch.randn(3, 3), b=torch.arange(3), h=torch.randn(2).half())
    path = tmp_path / "ok.ckpt"
    torch.save({"state_dict": state, "global_step": 10, "epoch": 1}, path)
    source = open_checkpoint(path)
    assert isinstance(source, PickleSource) and sorted(source.keys()) == ["b", "h", "w"]
    assert torch.equal(source.read("w"), state["w"]) and source.read("h", torch.float32).dtype == torch.float32
    bare = tmp_path / "bare.pt"
    torch.save(state, bare, _use_new_zipfile_serialization=False)  # the old, non-zip format
    assert torch.equal(open_checkpoint(bare).read("b"), state["b"])


def test_disallowed_global_loads_only_with_safety_disabled(tmp_path):
    path = tmp_path / "counter.ckpt"
    torch.save({"w": torch.ones(1), "stats": collections.Counter(a=1)}, path)
    with pytest.raises(UnsafeCheckpoint, match="collections.Counter"):
        open_checkpoint(path)
    assert open_checkpoint(path, disable_safe_unpickle=True).keys() == ["w"]


def test_garbage_ckpt_is_a_load_error(tmp_path):
    path = tmp_path / "junk.ckpt"
    path.write_bytes(b"this is not a pickle at all")
    with pytest.raises(ModelLoadError, match="not a readable checkpoint") as err:
        open_checkpoint(path)
    assert "junk.ckpt" in str(err.value)
