"""The "Download Stable Diffusion 1.5" action against a file served on 127.0.0.1: resume, progress, sha256."""
from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modules.errors import InvalidInput
from modules.models.download import SD15_FILE, DownloadError, download, download_sd15

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: more than one chunk
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves PAYLOAD; honours Range unless `ignore_range`; `cut_after` drops the connection mid-body once."""

    ignore_range = False
    cut_after: int | None = None
    requests: list[str | None] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path != "/model.safetensors":
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        type(self).requests.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng and not self.ignore_range else 0
        if start >= len(PAYLOAD):
            self.send_error(416)
            return
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = type(self).cut_after
        if cut is not None:
            type(self).cut_after = None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.ignore_range, Handler.cut_after, Handler.requests = False, None, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_downloads_verifies_and_reports_progress(server, tmp_path):
    seen = []
    result = download(f"{server}/model.safetensors", tmp_path / "m.safetensors", SHA,
                      progress=lambda done, total: seen.append((done, total)))
    assert result.path.read_bytes() == PAYLOAD and result.sha256 == SHA and result.resumed_from == 0
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) >= 2
    assert not (tmp_path / "m.safetensors.part").exists()


def test_an_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    Handler.cut_after = 300_000
    dest = tmp_path / "m.safetensors"
    with pytest.raises(DownloadError, match="resume"):
        download(f"{server}/model.safetensors", dest, SHA)
    part = tmp_path / "m.safetensors.part"
    assert part.stat().st_size == 300_000 and not dest.exists()
    result = download(f"{server}/model.safetensors", dest, SHA)
    assert result.resumed_from == 300_000 and Handler.requests[-1] == "bytes=300000-"
    assert dest.read_bytes() == PAYLOAD


def test_a_server_without_range_support_starts_over(server, tmp_path):
    Handler.ignore_range = True
    (tmp_path / "m.safetensors.part").write_bytes(b"garbage" * 10)
    result = download(f"{server}/model.safetensors", tmp_path / "m.safetensors", SHA)
    assert result.resumed_from == 0 and result.path.read_bytes() == PAYLOAD


def test_a_complete_part_file_is_finished_without_downloading_again(server, tmp_path):
    (tmp_path / "m.safetensors.part").write_bytes(PAYLOAD)
    result = download(f"{server}/model.safetensors", tmp_path / "m.safetensors", SHA)
    assert result.resumed_from == len(PAYLOAD) and result.path.read_bytes() == PAYLOAD


def test_a_wrong_checksum_deletes_the_file_and_says_so(server, tmp_path):
    with pytest.raises(DownloadError, match="does not match the expected 0000"):
        download(f"{server}/model.safetensors", tmp_path / "m.safetensors", "0" * 64)
    assert not list(tmp_path.iterdir())


def test_bad_urls_are_clear_errors(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{server}/missing.safetensors", tmp_path / "m.safetensors")
    with pytest.raises(InvalidInput, match="sd15_download_url"):
        download("file:///etc/passwd", tmp_path / "m.safetensors")
    with pytest.raises(DownloadError, match="failed"):
        download("http://127.0.0.1:9/nothing", tmp_path / "m.safetensors", timeout=2)


def test_download_sd15_names_the_file_and_skips_an_existing_one(server, tmp_path):
    result = download_sd15(tmp_path, url=f"{server}/model.safetensors", sha256=SHA)
    assert result.path == tmp_path / SD15_FILE and result.path.read_bytes() == PAYLOAD
    count = len(Handler.requests)
    again = download_sd15(tmp_path, url=f"{server}/model.safetensors", sha256=SHA)
    assert again.path == result.path and len(Handler.requests) == count


def test_download_sd15_flag_uses_the_url_and_checksum_settings(server, tmp_path):
    import webui
    from modules import cli

    flags = cli.parse_args(["--data-dir", str(tmp_path), "--nowebui", "--download-sd15"], env={})
    assert flags.download_sd15
    app = webui.build_app(flags)
    assert app.options.get("sd15_download_url").endswith("/v1-5-pruned-emaonly.safetensors")
    app.options.set("sd15_download_sha256", "1" * 64)
    app.options.set("sd15_download_url", f"{server}/model.safetensors")
    assert not webui.fetch_sd15(app)  # wrong checksum: reported, nothing kept
    app.options.set("sd15_download_sha256", SHA)
    assert webui.fetch_sd15(app)
    assert SD15_FILE in [c.name for c in app.models.list_checkpoints()]
