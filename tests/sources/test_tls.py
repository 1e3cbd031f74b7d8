"""TLS to Prometheus against a real HTTPS server: a private CA bundle, and client certificates
(mTLS), with certificates made by openssl for the test."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sloguard.errors import SourceUnavailable
from sloguard.sources.prometheus import Prometheus, PrometheusSettings, client

pytestmark = pytest.mark.integration  # starts real processes or servers

ANSWER = {"status": "success", "data": {"resultType": "vector", "result": []}}


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make test certificates")
    d = tmp_path_factory.mktemp("pki")
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=sloguard test CA",
        cwd=d,
    )
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=d,
        )
        (d / f"{name}.ext").write_text(extension + "\n")
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "1",
            "-extfile",
            f"{name}.ext",
            cwd=d,
        )
    return d


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps(ANSWER).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return None


def https(pki: Path, require_client_cert: bool) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki / "ca.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def tls_server(pki: Path) -> Iterator[str]:
    yield from https(pki, require_client_cert=False)


@pytest.fixture
def mtls_server(pki: Path) -> Iterator[str]:
    yield from https(pki, require_client_cert=True)


def query(settings: PrometheusSettings) -> object:
    async def once() -> object:
        async with client(settings) as http:
            return await Prometheus(http, settings).query("up", 0)

    return asyncio.run(once())


def test_a_private_ca_bundle_verifies_prometheus(tls_server: str, pki: Path) -> None:
    assert query(PrometheusSettings(url=tls_server, ca_file=pki / "ca.pem")) == []


def test_an_unknown_certificate_is_refused(tls_server: str) -> None:
    with pytest.raises(
        SourceUnavailable, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"
    ):
        query(PrometheusSettings(url=tls_server, retries=0))


def test_client_certificates_for_mtls(mtls_server: str, pki: Path) -> None:
    settings = PrometheusSettings(
        url=mtls_server,
        ca_file=pki / "ca.pem",
        cert_file=pki / "client.pem",
        key_file=pki / "client.key",
    )
    assert query(settings) == []
    with pytest.raises(SourceUnavailable):
        query(PrometheusSettings(url=mtls_server, ca_file=pki / "ca.pem", retries=0))
