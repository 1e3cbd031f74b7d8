"""The Alertmanager client (alertmanager.py) against answers Alertmanager would not give: a
proxy's redirect, HTML, deep or huge JSON, a bad URL, a server that dribbles; and `sloguard
silence --expire` believing only Alertmanager's own word that a silence expired."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import respx

from sloguard.alertmanager import MAX_ANSWER_BYTES, Alertmanager
from sloguard.errors import AlertmanagerError
from tests.support.running import run_cli

URL = "http://alertmanager.test"
SILENCE = "0b5f2a1e-8a8e-4b39-9a51-2f1f6a2b7c11"


def listed(answer: httpx.Response) -> str:
    with respx.mock(base_url=URL) as mock:
        mock.get("/api/v2/silences").mock(return_value=answer)
        with pytest.raises(AlertmanagerError) as caught:
            asyncio.run(Alertmanager(URL).silences())
    return str(caught.value)


def test_answers_alertmanager_would_not_give_are_errors_that_say_so() -> None:
    redirect = httpx.Response(302, headers={"Location": "https://sso.example.com/login"})
    assert "did not list its silences: 302" in listed(redirect)
    assert "answered no JSON" in listed(httpx.Response(200, text="<html>login</html>"))
    assert "answered no JSON" in listed(httpx.Response(200, text="[" * 100_000))
    assert "no silence list" in listed(httpx.Response(200, json={"status": "active"}))
    assert "more than 8 MiB" in listed(httpx.Response(200, text=" " * (MAX_ANSWER_BYTES + 1)))
    refused = listed(httpx.Response(500, text="boom\x1b]0;pwned\x07"))
    assert "500 boom" in refused and "\x1b" not in refused  # escaped, not sent to a terminal


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://127.0.0.1:99999", "ftp://alertmanager", "alertmanager:9093"]
)
def test_a_url_that_cannot_be_alertmanager_s_is_refused_plainly(url: str) -> None:
    with pytest.raises(AlertmanagerError, match="not an Alertmanager URL"):
        Alertmanager(url)


def test_errors_never_show_the_credentials_of_the_url() -> None:
    with respx.mock(base_url="http://user:s3cret@alertmanager.test") as mock:
        mock.get("/api/v2/silences").mock(return_value=httpx.Response(503))
        with pytest.raises(AlertmanagerError) as caught:
            asyncio.run(Alertmanager("http://user:s3cret@alertmanager.test").silences())
    assert "s3cret" not in str(caught.value) and "503" in str(caught.value)


@pytest.fixture
def dribbling() -> Iterator[str]:
    """A server that answers 200 and then one byte every second, forever."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                return

        def log_message(self, *_: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.integration
def test_a_dribbling_answer_ends_at_the_timeout_for_the_whole_request(dribbling: str) -> None:
    began = time.monotonic()
    with pytest.raises(AlertmanagerError, match="no full answer within 2s"):
        asyncio.run(Alertmanager(dribbling, timeout=2).silences())
    assert time.monotonic() - began < 5


def state(value: str) -> httpx.Response:
    return httpx.Response(200, json={"id": SILENCE, "status": {"state": value}, "matchers": []})


def expire(*answers: httpx.Response) -> tuple[int, str, str, int]:
    with respx.mock(base_url=URL, assert_all_called=False) as mock:
        mock.get(f"/api/v2/silence/{SILENCE}").mock(side_effect=list(answers))
        deleted = mock.delete(f"/api/v2/silence/{SILENCE}").mock(return_value=httpx.Response(200))
        code, said, err = run_cli("silence", "--expire", SILENCE, "--alertmanager", URL)
    return code, said, err, deleted.call_count


def test_expire_believes_only_alertmanager_saying_the_silence_expired() -> None:
    code, said, _, deletes = expire(state("active"), state("expired"))
    assert (code, deletes) == (0, 1) and f"expired silence {SILENCE}" in said
    code, said, _, deletes = expire(state("expired"))
    assert (code, deletes) == (0, 0) and "had already expired" in said
    # A proxy that says 200 to the DELETE and passes nothing on: the silence still holds.
    code, _, err, _ = expire(state("active"), state("active"))
    assert code == 2 and "still in force" in err
    code, _, err, deletes = expire(httpx.Response(404, text="silence not found"))
    assert (code, deletes) == (2, 0) and "has no such silence: 404" in err
