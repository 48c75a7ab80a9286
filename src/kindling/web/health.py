"""Liveness (``/healthz``), readiness (``/readyz``) and the application of a worker that is
still waiting for its database (RELIABILITY-AND-USERS.md A12 cases 45 and 47).

``/healthz`` says the process serves HTTP: it is answered on the event loop from
memory, with no I/O, before any routing, so it answers in milliseconds while every
worker thread is blocked on the database. A probe that restarts the process on it
never restarts a server for a database fault.

``/readyz`` says the server can do its work: the database answers within a bounded
time, every migration this code knows is applied, and a signing key is loaded. It is
200 ``{"status": "ready", "checks": {...}}`` or 503 ``{"status": "not_ready"}`` (or
``"starting"`` while a worker has not finished setting up), with each check ``ok`` or
what is wrong. The check runs on a thread of its own (not the request threads, which a
database fault may have used up), one at a time: concurrent probes share the running
check, and a check that does not finish within ``READY_TIMEOUT`` reports the database
as not answering. The body names no host, file or driver message; the engine logs those.

``StartingApp`` is what a worker answers before its database has answered once
(``kindling.web.asgi``): ``/healthz`` 200, ``/readyz`` 503, and 503 with ``Retry-After``
for everything else, as RFC 6749's ``temporarily_unavailable`` on the OAuth endpoints and
Kinde's ``error_response`` with ``SERVICE_UNAVAILABLE`` elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import msgspec

from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.engine import UNREACHABLE, StorageUnavailable
from kindling.platform.errors import ConfigurationError
from kindling.web.pipeline import CLIENT_AUTH_PATHS
from kindling.web.token import Receive, Scope, Send

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
PROBE_PATHS = frozenset({HEALTH_PATH, READY_PATH})
#: The longest ``/readyz`` waits for its check (the engine's own bounds are shorter).
READY_TIMEOUT = 3.0
OK = "ok"

log = logging.getLogger("kindling.health")

_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")
_HEALTHY = msgspec.json.encode({"status": "ok"})


async def send_json(
    send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """One complete JSON response."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                _JSON,
                _NO_STORE,
                (b"content-length", str(len(body)).encode("ascii")),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def healthz(send: Send) -> None:
    """Liveness: 200 from memory."""
    await send_json(send, 200, _HEALTHY)


def readiness_body(status: str, checks: Mapping[str, str]) -> bytes:
    return msgspec.json.encode({"status": status, "checks": dict(checks)})


def not_reachable(reason: str) -> dict[str, str]:
    """The checks while the database does not answer (``reason``: the fault's kind)."""
    return {"database": f"unavailable ({reason})", "migrations": "unknown", "keys": "unknown"}


def check_ready(ctx: Context) -> dict[str, str]:
    """The readiness checks, with I/O: a read of the schema versions and the key view."""
    try:
        pending = ctx.storage.pending_migrations()
    except StorageUnavailable as exc:
        return not_reachable(exc.reason)
    checks = {"database": OK}
    checks["migrations"] = OK if not pending else f"{len(pending)} pending"
    try:
        view = ctx.keyring.current()
    except StorageUnavailable as exc:
        checks.update(database=f"unavailable ({exc.reason})", keys="unknown")
        return checks
    except ConfigurationError as exc:
        checks["keys"] = exc.message
        return checks
    signing = view.signer_kid is not None and view.signer_kid in view.private
    checks["keys"] = OK if signing else "no usable signing key"
    return checks


class Readiness:
    """``/readyz`` for a running application (see the module docstring)."""

    def __init__(self, check: Callable[[], dict[str, str]]) -> None:
        self._check = check
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindling-readyz")
        self._running: asyncio.Future[dict[str, str]] | None = None

    async def __call__(self, send: Send) -> None:
        running = self._running
        if running is None or running.done():
            running = self._running = asyncio.wrap_future(self._executor.submit(self._check))
        try:
            checks = await asyncio.wait_for(asyncio.shield(running), READY_TIMEOUT)
        except TimeoutError:
            checks = not_reachable(f"no answer within {READY_TIMEOUT:g} s")
        except Exception:
            log.exception("the readiness check failed")
            checks = {"database": "check failed", "migrations": "unknown", "keys": "unknown"}
        ready = all(value == OK for value in checks.values())
        status = "ready" if ready else "not_ready"
        await send_json(send, 200 if ready else 503, readiness_body(status, checks))


#: While starting: how soon a client should try again (seconds).
STARTING_RETRY_AFTER = 5


class StartingApp:
    """What a worker answers until its database has answered once (module docstring).

    ``checks`` returns the current readiness checks (the set-up loop updates them).
    """

    def __init__(self, checks: Callable[[], Mapping[str, str]]) -> None:
        self._checks = checks
        retry = (b"retry-after", str(STARTING_RETRY_AFTER).encode("ascii"))
        self._retry = retry
        self._oauth = msgspec.json.encode(
            {
                "error": "temporarily_unavailable",
                "error_description": "the server is starting; try again later",
            }
        )
        self._api = msgspec.json.encode(
            {
                "errors": [
                    {
                        "code": Code.SERVICE_UNAVAILABLE,
                        "message": "The service is starting; retry after "
                        f"{STARTING_RETRY_AFTER} seconds",
                    }
                ]
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == HEALTH_PATH:
            await healthz(send)
        elif path == READY_PATH:
            await send_json(send, 503, readiness_body("starting", self._checks()), [self._retry])
        elif path in CLIENT_AUTH_PATHS:
            await send_json(send, 503, self._oauth, [self._retry, (b"pragma", b"no-cache")])
        else:
            await send_json(send, 503, self._api, [self._retry])


def starting_checks(error: Exception | None) -> dict[str, str]:
    """The checks of a worker still setting up, after ``error`` (None: not tried yet)."""
    if isinstance(error, StorageUnavailable):
        return not_reachable(error.reason)
    if error is None:
        return not_reachable(UNREACHABLE)
    return {"database": "set-up failed", "migrations": "unknown", "keys": "unknown"}
