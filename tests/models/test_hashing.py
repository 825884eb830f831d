"""sha256 identity and the cache.json hash cache (size + mtime keyed, atomic, other sections kept)."""
import hashlib
import json
import os

from modules.models.hashing import HashCache, sha256_file, short_hash


def test_sha256_of_whole_file_streamed(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)  # spans several 1 MiB blocks
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert short_hash(sha256_file(path)) == hashlib.sha256(data).hexdigest()[:10]


def test_cache_hit_and_recompute_on_change(tmp_path, monkeypatch):
    path = tmp_path / "a.ckpt"
    path.write_bytes(b"one")
    cache = HashCache(tmp_path / "cache.json")
    calls = []
    real = sha256_file
    monkeypatch.setattr("modules.models.hashing.sha256_file", lambda p: calls.append(p) or real(p))
    first = cache.sha256(path, "checkpoint/a.ckpt")
    assert first == hashlib.sha256(b"one").hexdigest() and len(calls) == 1
    assert cache.sha256(path, "checkpoint/a.ckpt") == first and len(calls) == 1  # cached
    assert HashCache(tmp_path / "cache.json").cached(path, "checkpoint/a.ckpt") == first  # persisted
    stat = path.stat()
    path.write_bytes(b"two!")  # size changes
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: size alone must trigger
    assert cache.cached(path, "checkpoint/a.ckpt") is None
    assert cache.sha256(path, "checkpoint/a.ckpt") == hashlib.sha256(b"two!").hexdigest() and len(calls) == 2
    os.utime(path, (1, 1))  # mtime changes
    assert cache.cached(path, "checkpoint/a.ckpt") is None


def test_a1111_layout_and_other_sections_kept(tmp_path):
    cache_path = tmp_path / "cache.json"
    cache_path.write_text(json.dumps({"safetensors-metadata": {"x": 1}, "hashes": {"lora/y": {"mtime": 1}}}))
    path = tmp_path / "b.safetensors"
    path.write_bytes(b"b")
    sha = HashCache(cache_path).sha256(path, "checkpoint/b.safetensors")
    data = json.loads(cache_path.read_text())
    assert data["safetensors-metadata"] == {"x": 1} and "lora/y" in data["hashes"]
    assert data["hashes"]["checkpoint/b.safetensors"] == {"mtime": path.stat().st_mtime, "size": 1, "sha256": sha}
    assert not list(tmp_path.glob("*.tmp"))  # atomic write left nothing behind


def test_a1111_entry_without_size_is_trusted_by_mtime(tmp_path):
    path = tmp_path / "c.ckpt"
    path.write_bytes(b"c")
    entry = {"mtime": path.stat().st_mtime, "sha256": "f" * 64}
    (tmp_path / "cache.json").write_text(json.dumps({"hashes": {"checkpoint/c.ckpt": entry}}))
    assert HashCache(tmp_path / "cache.json").cached(path, "checkpoint/c.ckpt") == "f" * 64


def test_no_hashing_and_corrupt_cache(tmp_path):
    path = tmp_path / "d.ckpt"
    path.write_bytes(b"d")
    off = HashCache(tmp_path / "cache.json", enabled=False)
    assert off.sha256(path, "checkpoint/d.ckpt") is None and not (tmp_path / "cache.json").exists()
    (tmp_path / "cache.json").write_text("{ not json")
    assert HashCache(tmp_path / "cache.json").sha256(path, "checkpoint/d.ckpt") == hashlib.sha256(b"d").hexdigest()
