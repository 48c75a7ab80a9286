"""``POST /oauth2/token`` as a bare ASGI endpoint.

This is the hot path, so it bypasses the router and middleware stack: it reads
the body (bounded), hands bytes and two headers to the sans-I/O
``TokenEndpoint``, and writes the response. With an embedded database (SQLite)
the lookup is a few microseconds and runs on the event loop; with PostgreSQL the
whole request is handled in a worker thread so the loop never waits on the network.
"""

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
import msgspec

from kindling.clock import Clock
from kindling.oauth.requests import MAX_BODY
from kindling.oauth.server import NO_STORE, TokenEndpoint, TokenResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
log = logging.getLogger("kindling.token")


def _static(
    status: int, error: str, description: str, extra: tuple[tuple[str, str], ...] = ()
) -> TokenResponse:
    body = msgspec.json.encode({"error": error, "error_description": description})
    return TokenResponse(status, body, NO_STORE + extra)


class TokenASGI:
    def __init__(self, endpoint: TokenEndpoint, clock: Clock, inline: bool) -> None:
        self._endpoint = endpoint
        self._clock = clock
        self._inline = inline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            response = _static(
                405,
                "invalid_request",
                "the token endpoint accepts only POST",
                (("allow", "POST"),),
            )
            await self._send(send, response)
            return
        content_type = authorization = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await self._send(
                    send, _static(413, "invalid_request", "the request body is too large")
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        now = self._clock.now()
        try:
            if self._inline:
                response = self._endpoint.handle(body, content_type, authorization, now)
            else:
                response = await anyio.to_thread.run_sync(
                    self._endpoint.handle, body, content_type, authorization, now
                )
        except Exception:
            # Never a partial or unsigned token: log (without the body) and answer 500.
            log.exception("token request failed")
            response = _static(500, "server_error", "the server could not issue a token")
        await self._send(send, response)

    @staticmethod
    async def _send(send: Send, response: TokenResponse) -> None:
        headers = [_JSON, (b"content-length", str(len(response.body)).encode("ascii"))]
        headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers)
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
