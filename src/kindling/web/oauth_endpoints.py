"""``POST /oauth2/introspect`` and ``POST /oauth2/revoke`` as bare ASGI endpoints.

Built like the token fast path (``web/token.py``), which stays as it is: the body is
read (bounded), bytes and two headers go to a sans-I/O endpoint
(``oauth.introspection``, ``oauth.revocation``), and its response is written. With
SQLite the work runs on the event loop (in-process lookups of microseconds); with
PostgreSQL in a worker thread, so the loop never waits on the network. A 2xx with no
body (a revocation) has no ``Content-Type``.

With an audit writer, a failed authentication (401: the client's credentials, or an
introspecting bearer token) is recorded as the token endpoint records its refusals
(``platform.audit.AuditWriter.refusal``, coalesced per second): the endpoint's action,
the client id the request named, the error code, the peer address and the request id;
never the credentials or the token. Other answers are not audited: a successful
introspection is a read, and a revocation changes state through the keyring, whose
own change is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio.to_thread
import msgspec

from kindling.clock import Clock
from kindling.oauth.requests import MAX_BODY
from kindling.oauth.server import NO_STORE, TokenResponse
from kindling.platform.audit import AuditWriter, token_refused
from kindling.platform.storage import current_request_id
from kindling.web.ratelimit import token_client_id
from kindling.web.token import Receive, Scope, Send

log = logging.getLogger("kindling.oauth")
_JSON = (b"content-type", b"application/json")

#: ``handle(body, content_type, authorization, now)`` of a sans-I/O endpoint.
Handle = Callable[[bytes, str | None, str | None, float], TokenResponse]


def oauth_error(
    status: int, error: str, description: str, extra: tuple[tuple[str, str], ...] = ()
) -> TokenResponse:
    """An RFC 6749 §5.2 error body with the no-store headers."""
    body = msgspec.json.encode({"error": error, "error_description": description})
    return TokenResponse(status, body, NO_STORE + extra)


class _Error(msgspec.Struct):
    error: str = "invalid_client"


_decode_error = msgspec.json.Decoder(_Error).decode


class FormEndpointASGI:
    """A POST-only, form-encoded OAuth endpoint; ``failure`` answers an unexpected error.

    With ``audit``, a 401 is recorded under ``refused_action`` (see the module docstring).
    """

    def __init__(
        self,
        handle: Handle,
        clock: Clock,
        inline: bool,
        name: str,
        failure: TokenResponse,
        audit: AuditWriter | None = None,
        refused_action: str | None = None,
    ) -> None:
        self._handle = handle
        self._clock = clock
        self._inline = inline
        self._name = name
        self._failure = failure
        self._audit = audit if refused_action else None
        self._refused_action = refused_action or ""

    def _record(self, scope: Scope, body: bytes, response: TokenResponse, now: float) -> None:
        """Queue the audit row of a failed authentication."""
        assert self._audit is not None
        try:
            error = _decode_error(response.body).error
        except (msgspec.DecodeError, msgspec.ValidationError):
            error = "invalid_client"
        client = scope.get("client")
        self._audit.refusal(
            token_refused(
                int(now * 1000),
                token_client_id(scope["headers"], body),
                (),
                error,
                client[0] if client else None,
                current_request_id.get(),
                action=self._refused_action,
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self._send(
                send,
                oauth_error(
                    405,
                    "invalid_request",
                    f"the {self._name} endpoint accepts only POST",
                    (("allow", "POST"),),
                ),
            )
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
                    send, oauth_error(413, "invalid_request", "the request body is too large")
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        now = self._clock.now()
        try:
            if self._inline:
                response = self._handle(body, content_type, authorization, now)
            else:
                response = await anyio.to_thread.run_sync(
                    self._handle, body, content_type, authorization, now
                )
        except Exception:
            # Never the request body in the log: it holds the token and maybe a secret.
            log.exception("%s request failed", self._name)
            response = self._failure
        if response.status == 401 and self._audit is not None:
            self._record(scope, body, response, now)
        await self._send(send, response)

    @staticmethod
    async def _send(send: Send, response: TokenResponse) -> None:
        headers = [(b"content-length", str(len(response.body)).encode("ascii"))]
        if response.body:
            headers.insert(0, _JSON)
        headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers)
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
