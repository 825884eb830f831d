"""Download a checkpoint the user asked for ("Download Stable Diffusion 1.5"): from a URL they can see and change
(setting `sd15_download_url`), resumable (a `.part` file continued with an HTTP Range request), with a progress
bar and a sha256 check before the file takes its final name. Nothing is ever fetched unless asked.
"""
from __future__ import annotations

import hashlib
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from modules.errors import EaselError, InvalidInput

log = logging.getLogger(__name__)

SD15_URL = ("https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/main/"
            "v1-5-pruned-emaonly.safetensors")
SD15_FILE = "v1-5-pruned-emaonly.safetensors"
SD15_SHA256 = "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa"
CHUNK = 1 << 20

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


class DownloadError(EaselError):
    """A download that could not finish; the `.part` file stays for a later resume unless it was corrupt."""

    status_code = 502


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    sha256: str
    resumed_from: int  # bytes already on disk when this download started


def check_url(url: str) -> str:
    """Only http(s) URLs (a file: or ftp: URL in a setting is a mistake, not a feature).

    >>> check_url("http://127.0.0.1:8000/x.safetensors")
    'http://127.0.0.1:8000/x.safetensors'
    """
    if not url.startswith(("http://", "https://")):
        raise InvalidInput("sd15_download_url", f"{url!r} is not an http(s) URL",
                           "an http:// or https:// address of a .safetensors file")
    return url


def _hash_existing(path: Path) -> tuple[hashlib._Hash, int]:
    digest = hashlib.sha256()
    size = 0
    if path.is_file():
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    return digest, size


def _open(url: str, start: int, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "easel", **({"Range": f"bytes={start}-"} if start
                                                                              else {})})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # nothing left to send: the part file is already complete
            return None
        raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"download of {url} failed: {getattr(e, 'reason', e)} (run it again to resume)") from None


def _total(response, start: int) -> int | None:
    length = response.headers.get("Content-Length")
    return start + int(length) if length and length.isdigit() else None


def download(url: str, dest: Path, sha256: str | None = None, progress: Progress | None = None,
             timeout: float = 30.0) -> DownloadResult:
    """Fetch `url` to `dest`, continuing `dest.part` if an earlier attempt left one; verify `sha256` if given."""
    check_url(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest, start = _hash_existing(part)
    response = _open(url, start, timeout)
    if response is not None and start and response.status != 206:  # the server ignored Range: start over
        digest, start = hashlib.sha256(), 0
        part.unlink(missing_ok=True)
    resumed_from = start
    if response is not None:
        _stream(response, part, digest, start, progress, url)
    got = digest.hexdigest()
    if sha256 and got != sha256.lower():
        part.unlink(missing_ok=True)
        raise DownloadError(f"{dest.name}: sha256 {got} does not match the expected {sha256.lower()}; the file was "
                            "deleted (check the download URL setting)")
    part.replace(dest)
    log.info("downloaded %s (%d bytes, sha256 %s)", dest, dest.stat().st_size, got)
    return DownloadResult(dest, got, resumed_from)


def _stream(response, part: Path, digest, start: int, progress: Progress | None, url: str) -> None:
    total = _total(response, start)
    done = start
    with response, part.open("ab" if start else "wb") as out, \
            tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=part.stem, mininterval=1) as bar:
        while True:
            try:
                chunk = response.read(CHUNK)
            except OSError as e:
                raise DownloadError(f"download of {url} stopped at {done} bytes: {e} (run it again to "
                                    "resume)") from None
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            bar.update(len(chunk))
            if progress is not None:
                progress(done, total)
    if total is not None and done < total:
        raise DownloadError(f"download of {url} stopped at {done} of {total} bytes (run it again to resume)")


def download_sd15(checkpoint_dir: Path, url: str = SD15_URL, sha256: str | None = SD15_SHA256,
                  progress: Progress | None = None) -> DownloadResult:
    """The "Download Stable Diffusion 1.5" action: into the checkpoint folder, skipped if the file is there."""
    dest = Path(checkpoint_dir) / SD15_FILE
    if dest.is_file():
        log.info("%s is already there; not downloading", dest)
        return DownloadResult(dest, "", dest.stat().st_size)
    return download(url, dest, sha256 or None, progress)
