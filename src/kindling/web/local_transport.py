"""An ``httpx`` transport that answers in this process: the CLI's ``--data-dir`` mode.

``kindling users list`` and the other data commands talk to the Management API through
``kindling.sdk.ManagementClient`` whether the server is remote (``--remote``,
``--profile``) or the data dir is opened here. In the second case the client is given a
``LocalTransport``: every request goes to the same ASGI application ``kindling serve``
runs (``create_app`` over the data dir's context, without rate limits), on a private
event loop in a thread of its own, so the routes, validation, scopes, error bodies and
audit rows are the server's own. Nothing listens on a port.

**The CLI's token.** The transport answers ``POST /oauth2/token`` itself: whoever holds
the data dir holds its master key and signing keys already, so there is no client
secret to check (as with ``kindling token``, docs/architecture.md "The token fast
path"). It mints, with the signing key that signs now, a client-credentials access token
in Kinde's M2M shape (RFC 9068 claims: ``aud`` the Management API audience, ``azp``
``CLI_CLIENT_ID``, every Management API and Kindling extension scope unless fewer were
asked for), valid for ``TOKEN_LIFETIME`` seconds. It is never printed or stored.

**The audit actor.** Every request the transport hands to the application carries the
CLI's operating-system user in the ASGI scope under ``LOCAL_ACTOR_SCOPE_KEY``
(``kindling.web.management``): a key only code in this process can set, as no HTTP
request can put anything into the scope. The Management API then records the CLI as
the actor of the change (``platform.audit``: actor type ``cli``, the OS user), exactly
as the direct CLI commands do, and does not look ``CLI_CLIENT_ID`` up among the
applications.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import httpx

from kindling.config import Settings
from kindling.context import REGISTRY, build_context
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.oauth.bearer import GRANT_TYPE
from kindling.platform.context import Context
from kindling.resources.apis.service import management_audience
from kindling.web.app import create_app
from kindling.web.management import LOCAL_ACTOR_SCOPE_KEY
from kindling.web.pipeline import TOKEN_PATH, ASGIApp
from kindling.web.token import Message, Scope

__all__ = ["CLI_CLIENT_ID", "TOKEN_LIFETIME", "LocalTransport", "cli_scopes"]

#: The ``azp`` of the CLI's in-process tokens: not an application, never looked up.
CLI_CLIENT_ID = "kindling-cli"
#: Seconds an in-process token lives; a CLI command ends well before.
TOKEN_LIFETIME = 3600
#: How long one in-process request may take before the transport gives up, in seconds.
DEFAULT_TIMEOUT = 300.0


def cli_scopes() -> tuple[str, ...]:
    """Every scope an operation can require: Kinde's Management API scopes and those of
    Kindling's own operations (``/kindling/v1``), sorted."""
    operations = [*REGISTRY.operations(), *REGISTRY.extension_operations()]
    found = set(MANAGEMENT_API_SCOPES) | {op.scope for op in operations if op.scope}
    return tuple(sorted(found))


class LocalTransport(httpx.BaseTransport):
    """Answers requests with the data dir's ASGI application, in process.

    ``open(settings, actor)`` builds the context (storage, keys) from ``settings``;
    ``close()`` stops the event loop thread and closes the storage. ``actor`` is the
    operating-system user the audit log names (None when it cannot be told).
    """

    def __init__(self, ctx: Context, actor: str | None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.ctx = ctx
        self.actor = actor or ""
        self.timeout = timeout
        self.issuer = ctx.issuer()
        self.audience = management_audience(self.issuer)
        self._scopes = cli_scopes()
        self._app: ASGIApp = create_app(ctx)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kindling-local-transport", daemon=True
        )
        self._thread.start()
        self._closed = False

    @classmethod
    def open(
        cls,
        settings: Settings,
        actor: str | None,
        check: Callable[[Context], None] | None = None,
    ) -> LocalTransport:
        """Open the data dir of ``settings`` (rate limits off: the caller is this process);
        ``check`` may refuse the opened context before the keys are loaded."""
        ctx = build_context(replace(settings, rate_limits=False))
        try:
            if check is not None:
                check(ctx)
            ctx.keyring.reload()
            return cls(ctx, actor)
        except BaseException:
            ctx.close()
            raise

    # -- httpx.BaseTransport -------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.TransportError("the local transport is closed")
        body = request.read()
        if request.method == "POST" and request.url.path == TOKEN_PATH:
            return self._token_response(request, body)
        future = asyncio.run_coroutine_threadsafe(
            self._call(self._scope(request), body), self._loop
        )
        try:
            status, headers, content = future.result(self.timeout)
        except FutureTimeout:
            future.cancel()
            raise httpx.ReadTimeout("the in-process request timed out", request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self.ctx.close()

    # -- the CLI's token -----------------------------------------------------------------

    def mint(self, scopes: tuple[str, ...] = ()) -> dict[str, Any]:
        """An RFC 6749 §5.1 success body with a token for the CLI (all scopes by default;
        only known scopes when some are asked for)."""
        granted = tuple(s for s in dict.fromkeys(scopes) if s in self._scopes) or self._scopes
        now = int(self.ctx.clock.now())
        claims = {
            "aud": [self.audience],
            "azp": CLI_CLIENT_ID,
            "exp": now + TOKEN_LIFETIME,
            "gty": [GRANT_TYPE],
            "iat": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "scope": " ".join(granted),
            "scp": list(granted),
            "v": "2",
        }
        return {
            "access_token": self.ctx.keyring.signer().sign(claims),
            "expires_in": TOKEN_LIFETIME,
            "scope": claims["scope"],
            "token_type": "Bearer",
        }

    def _token_response(self, request: httpx.Request, body: bytes) -> httpx.Response:
        form = parse_qs(body.decode("utf-8", "replace"))
        wanted = tuple(" ".join(form.get("scope", [])).split())
        return httpx.Response(
            200,
            json=self.mint(wanted),
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
            request=request,
        )

    # -- ASGI ----------------------------------------------------------------------------

    def _scope(self, request: httpx.Request) -> Scope:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme or "http",
            "path": url.path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "client": None,
            "server": (url.host or "localhost", port),
            "state": {},
            LOCAL_ACTOR_SCOPE_KEY: self.actor,
        }

    async def _call(self, scope: Scope, body: bytes) -> tuple[int, list[Any], bytes]:
        done = asyncio.Event()
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def receive() -> Message:
            if pending:
                return pending.pop()
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    done.set()

        try:
            await self._app(scope, receive, send)
        finally:
            done.set()
        if not started:
            return 500, [], b""
        headers = [(bytes(k), bytes(v)) for k, v in started.get("headers", [])]
        return int(started["status"]), headers, b"".join(chunks)
