"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 in this process,
plus Kinde's own decoder (``@kinde/webhooks``, run by node) to verify what it received.

The receiver records every request (headers, body, arrival time) and answers as told:
a status (a 302 with a ``Location``, say), after a delay (a slow receiver), or with an
endless body (an oversized answer), and it can be started on a port chosen in advance
so a test can have it "down" first and "back" later.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import KindlingServer, free_port

JS_DIR = Path(__file__).with_name("js")
DECODER = "@kinde/webhooks"


@dataclass
class Received:
    headers: dict[str, str]
    token: str
    at: float


@dataclass
class Behaviour:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    #: Bytes of body to stream after the headers (an oversized answer when large).
    stream: int = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        owner = self.server.owner
        owner.record(
            Received({k.lower(): v for k, v in self.headers.items()}, body.decode(), time.time())
        )
        behaviour = owner.behaviour
        if behaviour.delay:
            with owner.holding():
                time.sleep(behaviour.delay)
        self.send_response(behaviour.status)
        for name, value in behaviour.headers.items():
            self.send_header(name, value)
        if behaviour.stream:
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(behaviour.stream))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                while owner.streamed < behaviour.stream:
                    self.wfile.write(chunk)
                    owner.streamed += len(chunk)
            except OSError:
                owner.cut_off.set()
            return
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, owner: Receiver) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.owner = owner


class Receiver:
    """A webhook receiver on ``http://127.0.0.1:<port>/kinde-webhooks``."""

    def __init__(self, port: int | None = None, behaviour: Behaviour | None = None) -> None:
        self.port = port or free_port()
        self.behaviour = behaviour or Behaviour()
        self.received: list[Received] = []
        self.streamed = 0
        self.cut_off = threading.Event()
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/kinde-webhooks"

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Count a request being held (``peak`` is the most held at once)."""
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            yield
        finally:
            with self._lock:
                self.active -= 1

    def record(self, item: Received) -> None:
        with self._lock:
            self.received.append(item)

    def start(self) -> Receiver:
        self._server = _Server(self.port, self)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(
        self, match: Callable[[Received], bool], count: int = 1, timeout: float = 20.0
    ) -> list[Received]:
        """The received requests ``match`` accepts, once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [r for r in self.received if match(r)]
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, f"{len(found)} of {count} webhooks arrived"
                return found
            time.sleep(0.05)


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (``decode_with_kinde`` verifies)."""
    import jwt

    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


def decode_with_kinde(server: KindlingServer, tokens: list[str]) -> list[dict[str, Any] | None]:
    """``decodeWebhook(token, "https://localhost:PORT")`` of ``@kinde/webhooks`` for each
    token: it fetches the server's ``/.well-known/jwks.json`` over TLS and checks the
    signature; None for a token it refuses."""
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH; the webhook tests need Node.js 20+")
    if not (JS_DIR / "node_modules" / DECODER / "package.json").is_file():
        pytest.fail(f"{DECODER} is not installed; run (cd tests/js && npm ci)")
    assert server.tls and server.ca_path, "decodeWebhook needs the server over TLS"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_")}
    env["NODE_EXTRA_CA_CERTS"] = server.ca_path
    proc = subprocess.run(
        ["node", "verify_webhook.mjs"],
        cwd=JS_DIR,
        env=env,
        input=json.dumps({"domain": server.base_url, "tokens": tokens}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, Any] | None] = json.loads(proc.stdout.strip().splitlines()[-1])[
        "results"
    ]
    return results
