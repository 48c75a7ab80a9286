"""The HTTP/1.1 server's bound on request heads: uvicorn's httptools protocol, counted.

``kindling serve`` runs uvicorn with httptools (llhttp), which puts no limit on the
size or number of header fields: a 32 MiB ``Authorization`` header is buffered whole,
then handed to the application (measured: 8 such requests at once took a worker from
63 to 426 MB resident, and it stayed there). uvicorn bounds only its h11 parser
(``h11_max_incomplete_event_size``), and h11 costs about 50 µs more CPU per request
(token endpoint 360 → 405 µs, ``/healthz`` 100 → 150 µs on this host).

``BoundedHttpToolsProtocol`` keeps httptools and counts what arrives before it reaches
the parser: while a request head is being received, the bytes up to the blank line that
ends it and the number of lines. A head longer than the limit (uvicorn's
``h11_max_incomplete_event_size``, set by ``kindling serve`` from
``KINDLING_MAX_HEADER_BYTES``, 32 KiB by default) or with more than
``MAX_HEADER_COUNT`` lines is answered ``431 Request Header Fields Too Large``
(RFC 6585 §5) and the connection is closed; the parser never sees more than one read
past the limit. Head bytes that arrive in the same read as the end of a pipelined
request's body are not counted (at most one socket read, 256 KiB).

To let the client read the 431, the server stops writing (FIN) and keeps discarding
what the client still sends for at most ``LINGER`` seconds before it closes: closing
with unread data at once would reset the connection and lose the answer.

A refused ``POST /oauth2/token`` is audited like the token endpoint's own refusals,
through the recorder the application left in the ASGI lifespan state
(``kindling.web.pipeline.HEAD_REFUSED_STATE``, which uvicorn hands every protocol as
``app_state``): the client's address only, nothing of the head.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from kindling.config import DEFAULT_MAX_HEADER_BYTES
from kindling.platform.codes import Code
from kindling.web.pipeline import HEAD_REFUSED_STATE, MAX_HEADER_COUNT, TOKEN_PATH

__all__ = ["LINGER", "BoundedHttpToolsProtocol", "refusal"]

log = logging.getLogger("kindling.pipeline")

#: Seconds a refused connection keeps reading (and discarding) before it closes.
LINGER = 2.0

_TOKEN_PREFIX = b"POST " + TOKEN_PATH.encode("ascii")


def refusal(token_endpoint: bool) -> bytes:
    """The whole 431 response: OAuth's error shape for the token endpoint, else Kinde's."""
    if token_endpoint:
        body = msgspec.json.encode(
            {"error": "invalid_request", "error_description": "the request headers are too large"}
        )
        extra = b"cache-control: no-store\r\npragma: no-cache\r\n"
    else:
        body = msgspec.json.encode(
            {
                "errors": [
                    {
                        "code": Code.REQUEST_HEADERS_TOO_LARGE,
                        "message": "The request headers are too large",
                    }
                ]
            }
        )
        extra = b""
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n" + extra + b"connection: close\r\n"
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n\r\n" + body
    )


_REFUSALS = {True: refusal(True), False: refusal(False)}


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head (module docstring)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_limit = config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES
        self._in_head = True
        self._head_bytes = 0
        self._head_lines = 0
        self._head_start = b""
        self._tail = b""
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            if not self._head_bytes:
                self._head_start = data[: len(_TOKEN_PREFIX) + 1]
            window = self._tail + data
            end = window.find(b"\r\n\r\n")
            used = len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._head_bytes += used
            self._head_lines += data.count(b"\n", 0, used)
            if self._head_bytes > self._head_limit or self._head_lines > MAX_HEADER_COUNT + 2:
                self._refuse()
                return
            self._tail = window[-3:] if end < 0 else b""
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = self._head_lines = 0
        self._tail = b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        super().on_message_complete()

    def _refuse(self) -> None:
        self._refused = True
        transport = self.transport
        log.warning(
            "refused a request head of more than %d bytes or %d header fields from %s",
            self._head_limit,
            MAX_HEADER_COUNT,
            self.client[0] if self.client else "-",
        )
        token = self._head_start.startswith(_TOKEN_PREFIX)
        if token and self._head_start[len(_TOKEN_PREFIX) :] in (b"", b" ", b"?"):
            self._audit_refusal()
        if self.cycle is None or self.cycle.response_complete:
            transport.write(_REFUSALS[token])
        if transport.can_write_eof():
            transport.write_eof()
            self.loop.call_later(LINGER, transport.close)
        else:
            transport.close()

    def _audit_refusal(self) -> None:
        """Hand the refused token request to the application's recorder, if it left one."""
        record = self.app_state.get(HEAD_REFUSED_STATE)
        if record is None:
            return
        try:
            record(self.client[0] if self.client else None)
        except Exception:  # the answer goes out regardless
            log.exception("the refused token request could not be audited")
