"""A1111's --tls-keyfile / --tls-certfile: the server answers over HTTPS with that certificate, and not over plain
HTTP."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import requests
import urllib3

from tests.api.server_process import ServerProcess, data_dir_with


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_tls_flags_serve_https(tiny_checkpoint, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    server = ServerProcess(data_dir_with(tiny_checkpoint, tmp_path / "data"), "--tls-keyfile", str(key),
                           "--tls-certfile", str(cert), tls=True)
    try:
        answer = requests.get(server.url + "/sdapi/v1/samplers", timeout=10, verify=False)
        assert answer.status_code == 200 and any(s["name"] == "Euler" for s in answer.json())
        plain = server.url.replace("https://", "http://")
        with pytest.raises(requests.RequestException):
            requests.get(plain + "/sdapi/v1/samplers", timeout=10).raise_for_status()
        assert "on https://" in server.log_text()
    finally:
        server.stop()
