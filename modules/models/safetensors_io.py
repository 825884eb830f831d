"""A safetensors reader (and streaming writer) built on plain file reads, so we decide when memory is used.

Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N, N bytes of JSON
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, then the data; offsets count
from the end of the header. A tensor is read only when asked for, with `readinto` straight into a torch buffer,
and converted to the target dtype right away; memory-mapping would make every page read count as resident.
"""
from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from modules.errors import ModelLoadError

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
    "U16": torch.uint16, "U32": torch.uint32, "U64": torch.uint64,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
MAX_HEADER_BYTES = 100 * 1024 * 1024
READ_CHUNK = 64 * 1024 * 1024
SCRATCH_BYTES = 16 * 1024 * 1024  # source bytes converted per step when the dtype changes


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies in the file: absolute byte offset, size, dtype and shape."""

    dtype: torch.dtype
    shape: tuple[int, ...]
    offset: int
    nbytes: int


def parse_header(raw: bytes, data_start: int, file_size: int, path: str) -> tuple[dict[str, TensorEntry], dict]:
    """Validate the JSON header and return (entries, metadata); every problem names the file."""
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(path, f"bad safetensors header (not JSON: {e})") from None
    if not isinstance(header, dict):
        raise ModelLoadError(path, "bad safetensors header (not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    entries = {key: _parse_entry(key, info, data_start, file_size, path) for key, info in header.items()}
    return entries, metadata


def _parse_entry(key: str, info: object, data_start: int, file_size: int, path: str) -> TensorEntry:
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise ModelLoadError(path, f"bad safetensors header entry for {key!r}")
    dtype = DTYPES.get(info["dtype"])
    if dtype is None:
        raise ModelLoadError(path, f"tensor {key!r} has unknown dtype {info['dtype']!r} "
                                   f"(known: {', '.join(DTYPES)})")
    shape, offsets = info["shape"], info["data_offsets"]
    valid = (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)
             and isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets))
    if not valid or offsets[0] < 0 or offsets[1] < offsets[0]:
        raise ModelLoadError(path, f"bad shape or offsets for tensor {key!r}")
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if offsets[1] - offsets[0] != nbytes:
        raise ModelLoadError(path, f"tensor {key!r}: offsets span {offsets[1] - offsets[0]} bytes, "
                                   f"shape {shape} needs {nbytes}")
    if data_start + offsets[1] > file_size:
        raise ModelLoadError(path, f"tensor {key!r} lies past the end of the file (truncated download?)")
    return TensorEntry(dtype, tuple(shape), data_start + offsets[0], nbytes)


class SafetensorsFile:
    """An open .safetensors file: keys, shapes and dtypes at once; tensor data only on `read`."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - held open until close() / __exit__
        except FileNotFoundError:
            raise ModelLoadError(str(self.path), "file not found") from None
        except OSError as e:
            raise ModelLoadError(str(self.path), f"cannot open ({e.strerror})") from None
        self._scratch: torch.Tensor | None = None  # uint8 (SCRATCH_BYTES,), made on the first converting read
        try:
            self.entries, self.metadata = self._read_header()
        except BaseException:
            self._file.close()
            raise

    def _read_header(self) -> tuple[dict[str, TensorEntry], dict]:
        size = self.path.stat().st_size
        first = self._file.read(8)
        if len(first) < 8:
            raise ModelLoadError(str(self.path), "file is too short to be safetensors (truncated?)")
        (length,) = struct.unpack("<Q", first)
        if length > MAX_HEADER_BYTES:
            raise ModelLoadError(str(self.path), f"bad safetensors header (claims {length} bytes)")
        if 8 + length > size:
            raise ModelLoadError(str(self.path), "header runs past the end of the file (truncated?)")
        return parse_header(self._file.read(length), 8 + length, size, str(self.path))

    def keys(self) -> list[str]:
        return list(self.entries)

    def shape(self, key: str) -> tuple[int, ...]:
        return self.entries[key].shape

    def dtype(self, key: str) -> torch.dtype:
        return self.entries[key].dtype

    def read(self, key: str, dtype: torch.dtype | None = None, device: torch.device | str | None = None,
             channels_last: bool = False) -> torch.Tensor:
        """Read one tensor into fresh memory in `dtype` (floating tensors only).

        The result is allocated once, in its final dtype, and the file is read into it: directly when the dtypes
        agree, else through one reused 16 MB scratch buffer a chunk at a time, where reading each tensor whole
        first made and freed a raw copy of it (up to 75 MB, SD 1.x's token embedding). 4-D tensors wanted NHWC
        (`channels_last`) and other devices go the whole-tensor way: a layout change cannot be done chunk by
        chunk, and a later `.to(memory_format=...)` pass on the loaded model raised peak RSS from 1.29× to 1.39×
        of the model's size on the 2 GB SD 1.5 file."""
        entry = self.entries[key]
        on_cpu = device is None or torch.device(device).type == "cpu"
        if not on_cpu or (channels_last and len(entry.shape) == 4):
            return convert(self._read_raw(key, entry), dtype, device, channels_last)
        target = dtype if dtype is not None and entry.dtype.is_floating_point else entry.dtype
        out = torch.empty(entry.shape, dtype=target)
        if target == entry.dtype:
            self._read_into(key, entry.offset, _bytes_of(out))
        else:
            self._read_converted(key, entry, out.reshape(-1))
        return out

    def _read_raw(self, key: str, entry: TensorEntry) -> torch.Tensor:
        buffer = torch.empty(entry.nbytes, dtype=torch.uint8)
        self._read_into(key, entry.offset, buffer)
        return buffer.view(entry.dtype).reshape(entry.shape)

    def _read_converted(self, key: str, entry: TensorEntry, flat_out: torch.Tensor) -> None:
        """Fill `flat_out` (numel,) from the file, `SCRATCH_BYTES` of source data at a time."""
        itemsize = entry.dtype.itemsize
        per_chunk = SCRATCH_BYTES // itemsize
        if self._scratch is None:
            self._scratch = torch.empty(SCRATCH_BYTES, dtype=torch.uint8)
        for start in range(0, flat_out.numel(), per_chunk):
            count = min(per_chunk, flat_out.numel() - start)
            raw = self._scratch[:count * itemsize]
            self._read_into(key, entry.offset + start * itemsize, raw)
            flat_out[start:start + count].copy_(raw.view(entry.dtype))

    def _read_into(self, key: str, offset: int, buffer: torch.Tensor) -> None:
        """Fill the uint8 tensor `buffer` with the file's bytes from `offset`."""
        if not buffer.numel():
            return
        self._file.seek(offset)
        view = buffer.numpy().data  # a writable memoryview over the tensor's bytes
        got = 0
        while got < len(view):
            n = self._file.readinto(view[got:got + READ_CHUNK])
            if not n:
                raise ModelLoadError(str(self.path), f"tensor {key!r} ends early (truncated?)")
            got += n

    def close(self) -> None:
        self._file.close()
        self._scratch = None

    def __enter__(self) -> SafetensorsFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _bytes_of(tensor: torch.Tensor) -> torch.Tensor:
    """The bytes of a contiguous tensor as a flat uint8 view (writing them writes the tensor)."""
    return tensor.reshape(-1).view(torch.uint8)


def convert(tensor: torch.Tensor, dtype: torch.dtype | None, device, channels_last: bool,
            copy: bool = False) -> torch.Tensor:
    """`tensor` in `dtype` (floating tensors only), on `device`, NHWC when 4-D and `channels_last`: one new tensor.

    >>> t = convert(torch.ones(2, 3, 4, 5, dtype=torch.float16), torch.float32, None, True)
    >>> t.dtype, t.is_contiguous(memory_format=torch.channels_last), convert(torch.ones(3), None, None, True).shape
    (torch.float32, True, torch.Size([3]))
    """
    dtype = dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype
    layout = torch.channels_last if channels_last and tensor.ndim == 4 else torch.preserve_format
    return tensor.to(device=device, dtype=dtype, memory_format=layout, copy=copy)


def write_safetensors(path: Path | str, shapes: Mapping[str, tuple[tuple[int, ...], torch.dtype]],
                      make_tensor: Callable[[str], torch.Tensor], metadata: Mapping[str, str] | None = None) -> None:
    """Write a safetensors file one tensor at a time: the header is known from shapes, data is made on demand.

    Only one tensor lives in memory at once, so files larger than RAM can be written.
    """
    header: dict[str, object] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for key, (shape, dtype) in shapes.items():
        nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        header[key] = {"dtype": DTYPE_NAMES[dtype], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # data starts 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for key, (shape, dtype) in shapes.items():
            tensor = make_tensor(key)
            if tuple(tensor.shape) != tuple(shape) or tensor.dtype != dtype:
                raise ValueError(f"{key}: made {tuple(tensor.shape)} {tensor.dtype}, header says {shape} {dtype}")
            if tensor.numel():
                f.write(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)


def tensor_shapes(tensors: Iterable[tuple[str, torch.Tensor]]) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Header shapes of (name, tensor) pairs (meta tensors welcome)."""
    return {k: (tuple(t.shape), t.dtype) for k, t in tensors}
