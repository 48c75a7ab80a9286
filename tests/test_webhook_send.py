"""One webhook request (``kindling.resources.webhooks.delivery.send``) against real
sockets on 127.0.0.1: what is sent, redirects never followed, the answer cut off at
``MAX_RESPONSE``, one deadline for the whole attempt, and how each failure is named.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kindling.crypto.tls import ensure_local_tls
from kindling.resources.webhooks.delivery import MAX_RESPONSE, send
from tests.support import free_port

BODY = b"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
HEADERS = {"webhook-id": "delivery_0123", "webhook-timestamp": "1700000000"}


class Peer:
    """A raw TCP server on 127.0.0.1 whose connections ``handle`` serves, one thread each."""

    def __init__(self, handle: Callable[[socket.socket, Peer], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.handle = handle
        self.requests: list[bytes] = []
        self.sent = 0
        self.closed_early = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook?k=v") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.handle(conn, self)
            except OSError:
                self.closed_early.set()

    def close(self) -> None:
        self.listener.close()


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += conn.recv(65536)
    return head + b"\r\n\r\n" + rest


@contextmanager
def peer(handle: Callable[[socket.socket, Peer], None]) -> Iterator[Peer]:
    server = Peer(handle)
    try:
        yield server
    finally:
        server.close()


def answer(
    status: str, body: bytes = b"", extra: str = ""
) -> Callable[[socket.socket, Peer], None]:
    def handle(conn: socket.socket, server: Peer) -> None:
        server.requests.append(read_request(conn))
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        conn.sendall(head.encode() + body)

    return handle


def test_it_posts_the_jwt_with_kindes_headers_and_accepts_any_2xx() -> None:
    with peer(answer("202 Accepted", b"queued")) as server:
        result = send(server.url(), BODY, HEADERS, timeout=5)
    assert result.ok and result.status_code == 202 and result.excerpt == "queued"
    assert not result.truncated and 0 <= result.latency_ms < 5000
    (raw,) = server.requests
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /hook?k=v HTTP/1.1"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"] == "application/jwt"
    assert headers["webhook-id"] == "delivery_0123"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["user-agent"].startswith("Kindling-Webhooks/")
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert body == BODY


def test_a_non_2xx_answer_is_a_failed_attempt_with_its_status() -> None:
    with peer(answer("503 Service Unavailable", b"try later")) as server:
        result = send(server.url(), BODY, HEADERS, timeout=5)
    assert not result.ok
    assert (result.status_code, result.error, result.excerpt) == (503, "HTTP 503", "try later")


def test_a_redirect_is_not_followed_and_counts_as_a_failure() -> None:
    with peer(answer("200 OK")) as target:
        moved = answer("302 Found", extra=f"Location: {target.url('/elsewhere')}\r\n")
        with peer(moved) as server:
            result = send(server.url(), BODY, HEADERS, timeout=5)
        time.sleep(0.2)
        assert target.requests == []
    assert not result.ok and result.status_code == 302
    assert result.error is not None and "redirect" in result.error
    assert f"127.0.0.1:{target.port}/elsewhere" in result.error


def test_an_oversized_answer_is_cut_off_at_the_cap() -> None:
    def endless(conn: socket.socket, server: Peer) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        chunk = b"x" * 65536
        for _ in range(2000):  # up to 128 MiB, far more than anyone should read
            conn.sendall(chunk)
            server.sent += len(chunk)

    with peer(endless) as server:
        started = time.monotonic()
        result = send(server.url(), BODY, HEADERS, timeout=10)
        took = time.monotonic() - started
        assert server.closed_early.wait(5), "the receiver was never cut off"
    assert result.ok and result.status_code == 200 and result.truncated
    assert result.excerpt == "x" * 256
    assert took < 5
    # What the receiver managed to write before the connection closed: the cap plus
    # socket buffers, nowhere near the 128 MiB it meant to send.
    assert MAX_RESPONSE <= server.sent < 16 * 1024 * 1024, server.sent


def test_the_whole_attempt_has_one_deadline_even_against_a_trickle() -> None:
    def trickle(conn: socket.socket, server: Peer) -> None:
        read_request(conn)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
            conn.sendall(bytes([byte]))
            time.sleep(0.05)

    with peer(trickle) as server:
        started = time.monotonic()
        result = send(server.url(), BODY, HEADERS, timeout=1.0)
        took = time.monotonic() - started
    assert not result.ok and result.error == "timed out after 1 s"
    assert 0.9 < took < 2.5, took


def test_a_receiver_that_never_answers_times_out() -> None:
    def silent(conn: socket.socket, server: Peer) -> None:
        read_request(conn)
        time.sleep(5)

    with peer(silent) as server:
        started = time.monotonic()
        result = send(server.url(), BODY, HEADERS, timeout=0.5)
    assert result.error == "timed out after 0.5 s" and result.status_code is None
    assert time.monotonic() - started < 2


def test_a_closed_port_is_connection_refused() -> None:
    result = send(f"http://127.0.0.1:{free_port()}/hook", BODY, HEADERS, timeout=5)
    assert (result.ok, result.status_code, result.error) == (False, None, "connection refused")


def test_a_peer_that_hangs_up_is_a_failure() -> None:
    def hang_up(conn: socket.socket, server: Peer) -> None:
        read_request(conn)

    with peer(hang_up) as server:
        result = send(server.url(), BODY, HEADERS, timeout=5)
    assert not result.ok and result.status_code is None
    assert result.error is not None and "invalid HTTP response" in result.error


def test_an_untrusted_certificate_fails_tls(tmp_path: Path) -> None:
    files = ensure_local_tls(tmp_path / "tls", [], "password-for-the-test-key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key, files.key_password)

    def tls(conn: socket.socket, server: Peer) -> None:
        with context.wrap_socket(conn, server_side=True) as wrapped:
            wrapped.recv(1)

    with peer(tls) as server:
        url = f"https://localhost:{server.port}/hook"
        refused = send(url, BODY, HEADERS, timeout=5)
        assert files.ca_cert is not None
        trusting = ssl.create_default_context(cafile=str(files.ca_cert))
    assert not refused.ok and refused.error is not None
    assert refused.error.startswith("TLS failed"), refused.error
    with peer(tls) as server:
        # With the CA trusted the handshake passes (the peer then hangs up: no answer).
        trusted = send(f"https://localhost:{server.port}/hook", BODY, HEADERS, 5, trusting)
    assert trusted.error is not None and not trusted.error.startswith("TLS failed")
