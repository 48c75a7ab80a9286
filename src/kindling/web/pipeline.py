"""One request pipeline in front of every entry point: request id, access log, hooks.

``create_app`` wraps the whole ``KindlingApp`` in ``RequestPipeline``, a plain
ASGI middleware (no ``BaseHTTPMiddleware``: no extra task, no body streaming
wrapper), so the token fast path, the Management API (``/api/v1``), the Kindling
extensions (``/kindling/v1``), the console, the API docs, discovery, JWKS,
``/healthz``, ``/logo`` and unknown routes all pass through the same steps:

1. **Request id.** An incoming ``X-Request-ID`` is kept when it is *sane*: 1 to
   128 characters, each one of ``A-Z a-z 0-9 . _ : -``. That admits UUIDs, hex and
   W3C trace ids and ``service:host:n``-style ids, and rules out anything that could
   forge a log line, a JSON field or a header (CR, LF, NUL, spaces, quotes, ``=``,
   ``;``, ``/``, non-ASCII). Otherwise (absent, empty, too long, other characters)
   a new one of 32 hex characters (128 random bits) replaces it. The first
   ``X-Request-ID`` header decides; the response always carries exactly the id used.
   For the duration of the request the id is in
   ``kindling.platform.storage.current_request_id``, the contextvar the unit of work
   records with outbox events and
   ``kindling.web.logs.RequestIdFilter`` puts on log records. Worker threads see it:
   Starlette's ``run_in_threadpool`` and ``anyio.to_thread.run_sync`` (the token
   endpoint on PostgreSQL) run the function in a copy of the request's context.
2. **Access log**, logger ``kindling.access`` at INFO, one line per request after
   its response is sent: method, path, status, duration in milliseconds, client IP,
   entry point; the request id comes with the record. The path is logged without
   its query string, because query strings can carry secrets (a ``client_secret``
   or token someone put in a URL) and personal data (``?email=`` searches); headers
   (``Authorization``, cookies) and bodies are never logged; the path itself holds
   only routing data (resource ids and codes). A path with control characters
   (``%0A`` decodes to a newline) is logged escaped, so a request cannot forge a
   log line. Status 0 means no response was sent by the application (the
   client went away first). With ``kindling.access`` above INFO (``--no-access-log``)
   no line is built.
3. **Hooks** (``PipelineHook``), the seam for rate limiting, audit and metrics:
   every hook's ``before`` runs in order before the request reaches its entry point
   and may answer instead (``HookResponse``, e.g. a 429); every hook's ``after`` runs
   once the response is sent, with the status and the duration, short-circuited
   requests included. Handlers know nothing of them. A hook sees the request's
   headers (``RequestInfo.headers``) and, on a ``POST`` to the endpoints that
   authenticate clients (``CLIENT_AUTH_PATHS``: token, introspection, revocation) only,
   its form body (``RequestInfo.body``), which the pipeline reads ahead (at most
   ``MAX_BODY``, the token endpoint's own bound) and replays to the endpoint: the rate
   limiter keys them on the client id, which ``client_secret_post`` clients send in
   the body.
4. **Bounded headers** (a second line: ``kindling serve``'s HTTP parser,
   ``kindling.web.http_limits``, refuses an oversized request head before it is parsed).
   A request whose headers add up to more than ``max_header_bytes``, or number more
   than ``MAX_HEADER_COUNT``, is answered 431 (RFC 6585 §5) before any hook or entry
   point reads them, whichever ASGI server runs the application. On the token endpoint
   the refusal is audited like the endpoint's own (``head_refused``, given by
   ``create_app``: ``TokenASGI.headers_too_large``); the pipeline also leaves that
   recorder in the ASGI lifespan state (``HEAD_REFUSED_STATE``), where the parser's
   bound, which answers before any application runs, finds it.
5. **Last-resort errors.** An exception that escapes the application (or a hook)
   is logged once, with the request id, on ``kindling.pipeline``. If no response has
   started, the pipeline answers 500 itself (OAuth ``server_error`` on the token
   endpoint, Kinde's ``error_response`` elsewhere); if a response was sent in full
   (Starlette's ``ServerErrorMiddleware`` sends its 500 and re-raises) the exception
   stops here; if one was cut short it is re-raised so the server drops the
   connection.
6. **Trusted proxies.** With ``--trusted-proxies`` (``KINDLING_TRUSTED_PROXIES``), a request
   whose peer is one of them has its client address, scheme and host taken from
   ``X-Forwarded-For/-Proto/-Host`` (``kindling.web.proxy``) before anything else reads
   the scope; without it the headers change nothing and cost nothing.

The hot path (the token endpoint) pays for one scan of the request headers, 16
random bytes, a contextvar set/reset, one send wrapper that appends a pre-built
header pair, and, only when hooks are configured or the access log is on, one
``RequestInfo`` and the log line.
"""

from __future__ import annotations

import logging
import os
import re
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

import msgspec

from kindling.config import DEFAULT_MAX_HEADER_BYTES
from kindling.oauth.requests import MAX_BODY
from kindling.platform.codes import Code
from kindling.platform.storage import current_request_id
from kindling.web.proxy import TrustedProxies
from kindling.web.token import Message, Receive, Scope, Send

__all__ = [
    "CLIENT_AUTH_PATHS",
    "HEAD_REFUSED_STATE",
    "ASGIApp",
    "HookResponse",
    "PipelineHook",
    "RequestInfo",
    "RequestPipeline",
    "current_request_id",
    "entry_point",
    "is_sane_request_id",
]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_PATH = "/oauth2/token"
#: The form endpoints that authenticate a client with its secret (RFC 6749 §2.3.1,
#: RFC 7662 §2.1, RFC 7009 §2.1): the hooks see their bodies.
CLIENT_AUTH_PATHS = frozenset({TOKEN_PATH, "/oauth2/introspect", "/oauth2/revoke"})
REQUEST_ID_HEADER = b"x-request-id"
REQUEST_ID_MAX = 128
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,%d}" % REQUEST_ID_MAX)

access_log = logging.getLogger("kindling.access")
log = logging.getLogger("kindling.pipeline")

_JSON = (b"content-type", b"application/json")
_TOKEN_ERROR = msgspec.json.encode(
    {"error": "server_error", "error_description": "the server could not handle the request"}
)
_API_ERROR = msgspec.json.encode(
    {
        "errors": [
            {"code": Code.INTERNAL_ERROR, "message": "The server failed to handle the request"}
        ]
    }
)
_NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
#: The ASGI lifespan-state key (``scope["state"]``) of the recorder of refused token
#: request heads, for the HTTP server's protocol (``kindling.web.http_limits``).
HEAD_REFUSED_STATE = "kindling.token_head_refused"
#: More header fields than any client sends (Apache's ``LimitRequestFields`` default).
MAX_HEADER_COUNT = 100
_TOKEN_HEADERS_TOO_LARGE = msgspec.json.encode(
    {"error": "invalid_request", "error_description": "the request headers are too large"}
)
_API_HEADERS_TOO_LARGE = msgspec.json.encode(
    {
        "errors": [
            {
                "code": Code.REQUEST_HEADERS_TOO_LARGE,
                "message": "The request headers are too large",
            }
        ]
    }
)


def is_sane_request_id(value: bytes) -> bool:
    """True for 1-128 characters of ``A-Z a-z 0-9 . _ : -`` (see the module docstring)."""
    return _SANE_REQUEST_ID.fullmatch(value) is not None


def new_request_id() -> str:
    """A fresh request id: 32 hex characters, 128 random bits (``os.urandom``, as ``secrets``)."""
    return os.urandom(16).hex()


def entry_point(path: str) -> str:
    """Which entry point a path belongs to: the name hooks and the access log use.

    ``token`` (``/oauth2/token``), ``management`` (``/api/v1``), ``kindling``
    (``/kindling/v1``), ``console`` (``/admin``), ``docs`` (``/api/docs``,
    ``/api/openapi.json``), ``discovery`` (``/.well-known/…``: OpenID and OAuth
    metadata, JWKS) or ``other`` (``/healthz``, ``/logo``, unknown routes).
    """
    if path == TOKEN_PATH:
        return "token"
    if path.startswith("/api/"):
        if path.startswith("/api/v1/") or path == "/api/v1":
            return "management"
        if path.startswith("/api/docs") or path == "/api/openapi.json":
            return "docs"
        return "other"
    if path.startswith("/kindling/v1/") or path == "/kindling/v1":
        return "kindling"
    if path.startswith("/admin/") or path == "/admin":
        return "console"
    if path.startswith("/.well-known/"):
        return "discovery"
    return "other"


def loggable_path(path: str) -> str:
    """``path`` safe for a one-line log: non-printable characters backslash-escaped."""
    if path.isprintable():
        return path
    return path.encode("unicode_escape").decode("ascii")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the pipeline knows of a request before it runs: given to hooks and the log.

    ``path`` is the decoded path the router sees, without the query string;
    ``client_ip`` the peer address, or the client's address from ``X-Forwarded-For`` when
    the peer is a trusted proxy (``kindling.web.proxy``).
    """

    method: str
    path: str
    client_ip: str | None
    request_id: str
    entry_point: str
    #: The headers as the server passed them (lower-case names, raw bytes), not copied.
    headers: Sequence[tuple[bytes, bytes]] = ()
    #: A ``POST`` to ``CLIENT_AUTH_PATHS`` with hooks only: the body, read ahead (None when
    #: it is larger than ``MAX_BODY``, and elsewhere).
    body: bytes | None = None
    #: The ASGI scope the entry point was given: after the response, the router has left
    #: the matched route in it (``scope["route"]``; the metrics' route template).
    scope: Scope | None = None


@dataclass(frozen=True, slots=True)
class HookResponse:
    """A response a hook answers with instead of the entry point (e.g. a 429)."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> HookResponse:
        """A JSON response; the hook picks the shape (OAuth on ``token``, Kinde elsewhere)."""
        return cls(status, msgspec.json.encode(payload), tuple((headers or {}).items()))


class PipelineHook(Protocol):
    """Plugs into every request without touching handlers (rate limits, audit, metrics).

    ``before`` runs on the event loop before the entry point; returning a
    ``HookResponse`` answers the request with it (later hooks' ``before`` and the
    entry point do not run). ``after`` runs on the event loop once the response has
    been sent, for every request that reached ``before`` (short-circuited ones too),
    with the status sent and the duration in seconds; it must be quick and must not
    block. An exception from ``before`` answers 500; one from ``after`` is logged.
    """

    async def before(self, request: RequestInfo) -> HookResponse | None: ...

    def after(self, request: RequestInfo, status: int, duration: float) -> None: ...


class _Exchange:
    """The send side of one request: adds ``X-Request-ID``, remembers status and completion."""

    __slots__ = ("_send", "_header", "status", "started", "complete")

    def __init__(self, send: Send, header: tuple[bytes, bytes]) -> None:
        self._send = send
        self._header = header
        self.status = 0
        self.started = False
        self.complete = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self.started = True
            # A new list: the application's own header list (a Response's raw_headers)
            # is left as it was.
            message["headers"] = [*message.get("headers", ()), self._header]
        elif kind == "http.response.body":
            if not message.get("more_body", False):
                self.complete = True
        elif kind == "http.response.pathsend":
            self.complete = True
        await self._send(message)

    async def respond(
        self, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> None:
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *headers,
                    (b"content-length", str(len(body)).encode("ascii")),
                ],
            }
        )
        await self.send({"type": "http.response.body", "body": body})


async def _read_ahead(receive: Receive) -> tuple[bytes | None, Receive]:
    """The body (None past ``MAX_BODY``) and a ``receive`` that replays what was read.

    Reading stops once ``MAX_BODY`` is passed, so a hook never holds more than the
    endpoint would; the endpoint then reads the rest itself and answers its own 413.
    """
    messages: deque[Message] = deque()
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            body = None
            break
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            body = None
            break
        if not message.get("more_body", False):
            body = b"".join(m.get("body", b"") for m in messages)
            break

    async def replay() -> Message:
        if messages:
            return messages.popleft()
        return await receive()

    return body, replay


class RequestPipeline:
    """The ASGI middleware around the whole application (see the module docstring)."""

    __slots__ = ("app", "hooks", "max_header_bytes", "proxies", "head_refused")

    def __init__(
        self,
        app: ASGIApp,
        hooks: Sequence[PipelineHook] = (),
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        proxies: TrustedProxies | None = None,
        head_refused: Callable[[str | None], None] | None = None,
    ) -> None:
        self.app = app
        self.hooks = tuple(hooks)
        self.max_header_bytes = max_header_bytes
        #: ``X-Forwarded-*`` is believed from these peers only (None: from nobody).
        self.proxies = proxies if proxies else None
        #: Records a token request refused with 431, given the client's address.
        self.head_refused = head_refused

    def share_state(self, scope: Scope) -> None:
        """Leave ``head_refused`` in a lifespan scope's state (``HEAD_REFUSED_STATE``)."""
        state = scope.get("state")
        if self.head_refused is not None and isinstance(state, dict):
            state[HEAD_REFUSED_STATE] = self.head_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                self.share_state(scope)
            await self.app(scope, receive, send)
            return
        if self.proxies is not None:
            scope = self.proxies.apply(scope)
        start = perf_counter()
        raw_id: bytes | None = None
        seen_id = False
        size = 0
        headers = scope["headers"]
        for name, value in headers:
            size += len(name) + len(value)
            if not seen_id and name == REQUEST_ID_HEADER:
                seen_id = True
                if _SANE_REQUEST_ID.fullmatch(value) is not None:
                    raw_id = value
        if raw_id is None:
            request_id = os.urandom(16).hex()
            raw_id = request_id.encode("ascii")
        else:
            request_id = raw_id.decode("ascii")
        exchange = _Exchange(send, (REQUEST_ID_HEADER, raw_id))
        reset = current_request_id.set(request_id)
        info: RequestInfo | None = None
        try:
            hooks = self.hooks
            if hooks or access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                info = RequestInfo(
                    scope["method"],
                    scope["path"],
                    client[0] if client else None,
                    request_id,
                    entry_point(scope["path"]),
                    headers,
                    scope=scope,
                )
            try:
                if size > self.max_header_bytes or len(headers) > MAX_HEADER_COUNT:
                    if scope["path"] == TOKEN_PATH:
                        if self.head_refused is not None:
                            client = scope.get("client")
                            self.head_refused(client[0] if client else None)
                        await exchange.respond(431, _TOKEN_HEADERS_TOO_LARGE, (_JSON, *_NO_STORE))
                    else:
                        await exchange.respond(431, _API_HEADERS_TOO_LARGE, (_JSON,))
                    return
                if info is not None and hooks:
                    if scope["method"] == "POST" and scope["path"] in CLIENT_AUTH_PATHS:
                        body, receive = await _read_ahead(receive)
                        # Not dataclasses.replace: it looks the fields up on every call.
                        info = RequestInfo(
                            info.method,
                            info.path,
                            info.client_ip,
                            request_id,
                            info.entry_point,
                            headers,
                            body,
                            scope,
                        )
                    answer = await self._before(info)
                    if answer is not None:
                        await self._answer(exchange, answer)
                        return
                await self.app(scope, receive, exchange.send)
            except Exception:
                log.exception(
                    "unhandled error in %s %s",
                    scope["method"],
                    loggable_path(scope["path"]),
                )
                if not exchange.started:
                    if scope["path"] == TOKEN_PATH:
                        await exchange.respond(500, _TOKEN_ERROR, (_JSON, *_NO_STORE))
                    else:
                        await exchange.respond(500, _API_ERROR, (_JSON,))
                elif not exchange.complete:
                    raise
        finally:
            if info is not None:
                self._observe(info, exchange.status, perf_counter() - start)
            current_request_id.reset(reset)

    async def _before(self, info: RequestInfo) -> HookResponse | None:
        for hook in self.hooks:
            answer = await hook.before(info)
            if answer is not None:
                return answer
        return None

    @staticmethod
    async def _answer(exchange: _Exchange, answer: HookResponse) -> None:
        headers = [(b"content-type", answer.content_type.encode("latin-1"))]
        headers.extend(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in answer.headers
        )
        await exchange.respond(answer.status, answer.body, headers)

    def _observe(self, info: RequestInfo, status: int, duration: float) -> None:
        for hook in self.hooks:
            try:
                hook.after(info, status, duration)
            except Exception:
                log.exception("the pipeline hook %s failed after the response", type(hook).__name__)
        if access_log.isEnabledFor(logging.INFO):
            path = loggable_path(info.path)
            millis = round(duration * 1000, 3)
            access_log.info(
                "%s %s %d %.2fms %s %s",
                info.method,
                path,
                status,
                millis,
                info.client_ip or "-",
                info.entry_point,
                extra={
                    "method": info.method,
                    "path": path,
                    "status": status,
                    "duration_ms": millis,
                    "client_ip": info.client_ip,
                    "entry_point": info.entry_point,
                },
            )
