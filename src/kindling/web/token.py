"""``POST /oauth2/token`` as a bare ASGI endpoint.

This is the hot path, so it bypasses the router and middleware stack: it reads
the body (bounded), hands bytes and two headers to the sans-I/O
``TokenEndpoint``, and writes the response. With an embedded database (SQLite)
the lookup is a few microseconds and runs on the event loop; with PostgreSQL the
whole request is handled in a worker thread so the loop never waits on the network.

With an audit writer (``kindling.platform.audit``) every answer is recorded before it
is sent: an issued token (client id, audiences, a summary of the granted scopes, ``jti``:
``audit.token_issued``) or a refusal (the client id named, the error code), with the
peer address and the request id. The cost on this path is one append to an in-memory
queue; refusals are coalesced per second. Neither the secret nor the token is ever
recorded. A 429 of the rate limiter never reaches this endpoint; the limiter records it
the same way (``kindling.web.ratelimit``). Neither does a 431 (a request head over the
bound), answered by the request pipeline or the HTTP server's parser: they record it
through ``headers_too_large``.
"""

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
import msgspec

from kindling.clock import Clock
from kindling.oauth.requests import MAX_BODY
from kindling.oauth.server import NO_STORE, TokenEndpoint, TokenResponse
from kindling.platform.audit import AuditWriter, token_issued, token_refused
from kindling.platform.engine import StorageUnavailable
from kindling.platform.storage import current_request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_NO_STORE = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in NO_STORE]
log = logging.getLogger("kindling.token")


def _static(
    status: int, error: str, description: str, extra: tuple[tuple[str, str], ...] = ()
) -> TokenResponse:
    body = msgspec.json.encode({"error": error, "error_description": description})
    return TokenResponse(status, body, NO_STORE + extra)


def unavailable(exc: StorageUnavailable) -> TokenResponse:
    """The OAuth answer when the database cannot be used (RELIABILITY-AND-USERS.md A12
    case 46): 503, ``temporarily_unavailable`` (RFC 6749 §4.1.2.1) and ``Retry-After``
    (RFC 9110 §10.2.3) in seconds; no token."""
    return _static(
        503,
        "temporarily_unavailable",
        "the server cannot issue tokens right now; try again later",
        (("retry-after", str(exc.retry_after)),),
    )


class TokenASGI:
    def __init__(
        self,
        endpoint: TokenEndpoint,
        clock: Clock,
        inline: bool,
        audit: AuditWriter | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._clock = clock
        self._inline = inline
        self._audit = audit

    def headers_too_large(self, ip: str | None) -> None:
        """Record a 431 answered for this endpoint before it ran (RFC 6585 §5: the head
        over ``KINDLING_MAX_HEADER_BYTES`` or ``MAX_HEADER_COUNT`` fields; the request
        pipeline, ``kindling.web.http_limits``) as its own refusals are: a
        ``token.refused`` row with the answer's error, ``invalid_request``, and
        ``details.status`` 431, coalesced per second. Nothing of the headers is recorded,
        not even a Basic header's client id: the head was never parsed for one."""
        audit = self._audit
        if audit is None:
            return
        at = int(self._clock.now() * 1000)
        rid = current_request_id.get()
        audit.refusal(
            token_refused(at, None, (), "invalid_request", ip, rid, details={"status": 431})
        )

    def _record(self, scope: Scope, response: TokenResponse, now: float, error: str) -> None:
        """Queue the answer's audit row (``error`` when the response has no outcome)."""
        audit = self._audit
        if audit is None:
            return
        client = scope.get("client")
        ip = client[0] if client else None
        at = int(now * 1000)
        outcome = response.outcome
        if outcome is not None and outcome.error is None and response.status == 200:
            audit.enqueue(
                token_issued(
                    at,
                    outcome.client_id or "",
                    outcome.audiences,
                    outcome.scopes,
                    outcome.jti,
                    ip,
                    current_request_id.get(),
                    outcome.narrowed,
                )
            )
        elif outcome is not None:
            audit.refusal(
                token_refused(
                    at,
                    outcome.client_id,
                    outcome.audiences,
                    outcome.error or error,
                    ip,
                    current_request_id.get(),
                )
            )
        else:
            audit.refusal(token_refused(at, None, (), error, ip, current_request_id.get()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            response = _static(
                405,
                "invalid_request",
                "the token endpoint accepts only POST",
                (("allow", "POST"),),
            )
            self._record(scope, response, self._clock.now(), "invalid_request")
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
                response = _static(413, "invalid_request", "the request body is too large")
                self._record(scope, response, self._clock.now(), "invalid_request")
                await self._send(send, response)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        now = self._clock.now()
        error = "server_error"
        try:
            if self._inline:
                response = self._endpoint.handle(body, content_type, authorization, now)
            else:
                response = await anyio.to_thread.run_sync(
                    self._endpoint.handle, body, content_type, authorization, now
                )
        except StorageUnavailable as exc:
            # The client could not be checked against storage, so nothing is issued:
            # RFC 6749 §4.1.2.1's ``temporarily_unavailable``, as 503 with Retry-After.
            response, error = unavailable(exc), "temporarily_unavailable"
        except Exception:
            # Never a partial or unsigned token: log (without the body) and answer 500.
            log.exception("token request failed")
            response = _static(500, "server_error", "the server could not issue a token")
        self._record(scope, response, now, error)
        await self._send(send, response)

    @staticmethod
    async def _send(send: Send, response: TokenResponse) -> None:
        headers = [_JSON, (b"content-length", b"%d" % len(response.body))]
        if response.headers is NO_STORE:
            # Every token and plain error: pre-encoded (7.4 k instructions less per token,
            # bench/token_instructions.py under cachegrind).
            headers += _NO_STORE
        else:
            headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers)
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
