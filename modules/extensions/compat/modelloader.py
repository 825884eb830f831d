"""A1111's `modules.modelloader`: listing model files in a folder and fetching one from a URL for an extension
(Easel's resumable downloader, modules/models/download.py, logged with the URL and the file it writes)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger("easel.extensions")


def load_file_from_url(url: str, *, model_dir: str, progress: bool = True, file_name: str | None = None,
                       hash_prefix: str | None = None, re_download: bool = False) -> str:
    """The path of `model_dir/file_name` (the URL's file name by default), downloaded first if absent. A file
    whose sha256 does not start with `hash_prefix` is refused."""
    from modules.models.download import DownloadError, download

    name = file_name or os.path.basename(urlparse(url).path)
    dest = Path(model_dir) / name
    if dest.exists() and not re_download:
        return str(dest)
    log.info("extension download: %s -> %s", url, dest)
    result = download(url, dest)
    if hash_prefix and not result.sha256.startswith(hash_prefix):
        dest.unlink(missing_ok=True)
        raise DownloadError(f"{url}: sha256 {result.sha256} does not start with the expected {hash_prefix}")
    return str(dest)


def load_models(model_path: str, model_url: str | None = None, command_path: str | None = None,
                ext_filter=None, download_name: str | None = None, ext_blacklist=None,
                hash_prefix: str | None = None) -> list[str]:
    """Model files (by extension filter) in `model_path` and `command_path`; with none found and a `model_url`,
    that one downloaded (or the URL itself when `download_name` is None, as A1111)."""
    found: list[str] = []
    for folder in dict.fromkeys(p for p in (model_path, command_path) if p):
        if not os.path.isdir(folder):
            continue
        for root, _, files in os.walk(folder, followlinks=True):
            for name in sorted(files):
                full = os.path.join(root, name)
                if ext_filter and not any(name.lower().endswith(e.lower()) for e in ext_filter):
                    continue
                if ext_blacklist and any(name.lower().endswith(e.lower()) for e in ext_blacklist):
                    continue
                if full not in found:
                    found.append(full)
    if not found and model_url is not None:
        found.append(load_file_from_url(model_url, model_dir=model_path, file_name=download_name,
                                        hash_prefix=hash_prefix) if download_name else model_url)
    return found


def friendly_name(file: str) -> str:
    """The model's name: the file name without folder and extension (or the URL's)."""
    if file.startswith("http"):
        file = urlparse(file).path
    return os.path.splitext(os.path.basename(file))[0]


def load_spandrel_model(path, *, device=None, prefer_half: bool = False, dtype=None, expected_architecture=None):
    """An upscaler/restorer model read by spandrel (the package Easel loads them with), on `device`."""
    import spandrel
    import torch

    descriptor = spandrel.ModelLoader(device=device).load_from_file(str(path))
    if expected_architecture and descriptor.architecture.name != expected_architecture:
        log.warning("%s: expected a %s model, found %s", path, expected_architecture, descriptor.architecture.name)
    if prefer_half or dtype is not None:
        descriptor.model.to(dtype=dtype or torch.float16)
    descriptor.model.eval()
    return descriptor
