"""ASGI factory for worker processes: settings from ``KINDLING_*`` variables.

The application returned is wrapped in the request pipeline (``create_app``);
logging is configured by uvicorn from ``kindling serve``'s ``log_config``.

Each worker process also runs the webhook deliverer
(``kindling.resources.webhooks.deliverer``): started when the ASGI lifespan starts,
stopped when it ends, so it lives exactly as long as the worker serves requests and
never runs on the request path. Several workers (or instances) on one database share
the deliveries through leases, so each attempt is made once.

**Starting without the database (RELIABILITY-AND-USERS.md A12 case 45).** A worker whose
database does not answer (``StorageUnavailable``) still starts: it serves
``StartingApp`` (``kindling.web.health``: ``/healthz`` 200, ``/readyz`` 503, everything
else 503 with ``Retry-After``) and retries its set-up on a background thread, with a
back-off from ``FIRST_RETRY`` doubling to ``MAX_RETRY`` seconds, logging once each time
the cause changes. Once the database answers it opens storage (migrating it), runs the
first-run bootstrap if ``kindling serve`` could not (``DEFERRED_BOOTSTRAP_ENV``), loads the
keys and swaps the real application in; from then on it is as if it had started normally.
Refusals that mean "unsafe to start" (``ConfigurationError``: a wrong master key, an
unusable signing key; case 50) end the process instead of being retried.

**First-run secrets when bootstrap is deferred.** ``kindling serve`` prints its banner
without secrets and exports ``DEFERRED_BOOTSTRAP_ENV``; each worker then runs the
(idempotent, concurrency-safe) bootstrap itself, and only the one whose transaction
creates the environment gets the bootstrap application's secret and the admin password
back, and prints them, once, on standard output (``first_run_lines``). A bootstrap whose
commit succeeds but whose acknowledgement is lost to the fault cannot print what it
made; ``kindling apps`` and ``kindling admin set-password`` replace them.
"""

import asyncio
import json
import logging
import os
import shlex
import threading

import anyio.to_thread

from kindling.bootstrap import BootstrapResult, bootstrap
from kindling.config import DEFAULT_THREADS, Settings
from kindling.context import build_context
from kindling.platform.engine import StorageUnavailable, limits_from, use_limits
from kindling.platform.errors import ConfigurationError
from kindling.resources.admin.service import OWNER_USERNAME
from kindling.resources.webhooks.deliverer import Deliverer
from kindling.web.app import create_app
from kindling.web.health import StartingApp, starting_checks
from kindling.web.pipeline import HEAD_REFUSED_STATE, ASGIApp, RequestPipeline
from kindling.web.token import Receive, Scope, Send

log = logging.getLogger("kindling.startup")

#: Set by ``kindling serve`` when it could not run the first-run bootstrap: a JSON object
#: with ``cacert`` (the local CA's path, or null) for the printed curl example.
DEFERRED_BOOTSTRAP_ENV = "KINDLING_DEFERRED_BOOTSTRAP"
#: The set-up retry loop's back-off, in seconds: the first wait, and the longest.
FIRST_RETRY = 0.5
MAX_RETRY = 5.0
#: The exit status of a worker that finds it unsafe to start after a deferred set-up.
EXIT_CONFIGURATION = 3


def first_run_lines(result: BootstrapResult, cacert: str | None) -> list[str]:
    """What a first run prints once: the bootstrap application's credentials, a token
    request and an API call with them, and the console owner's password (those this run
    created; nothing otherwise)."""
    lines: list[str] = []
    issuer = result.issuer
    ca = f" --cacert {shlex.quote(cacert)}" if cacert else ""
    if result.client_id and result.client_secret:
        lines += [
            "",
            "First run: a bootstrap M2M application was authorized for the Management API.",
            f"  client id:     {result.client_id}",
            f"  client secret: {result.client_secret}",
            "The secret is shown only now; store it safely.",
            "",
            "Get a token:",
            f"  TOKEN=$(curl{ca} -s -X POST {issuer}/oauth2/token \\",
            "    -H 'Content-Type: application/x-www-form-urlencoded' \\",
            "    -d grant_type=client_credentials \\",
            f"    -d client_id={result.client_id} \\",
            f"    -d client_secret={result.client_secret} \\",
            f"    -d audience={result.audience} \\",
            "    | python3 -c 'import json,sys; d=json.load(sys.stdin); "
            'sys.exit(json.dumps(d)) if "error" in d else print(d["access_token"])\')',
            "",
            "Call the Management API with it:",
            f'  curl{ca} -s {issuer}/api/v1/users -H "Authorization: Bearer $TOKEN"',
        ]
    if result.admin_password:
        lines += [
            "",
            f"Admin console: {issuer}/admin",
            f"  username: {OWNER_USERNAME}",
            f"  password: {result.admin_password}",
            "The password is shown only now; change it with `kindling admin set-password`.",
        ]
    return lines


def use_threads(count: int) -> None:
    """Bound the threads blocking work runs on (``Settings.threads``): anyio's default
    limiter, which Starlette's ``run_in_threadpool`` and ``anyio.to_thread.run_sync`` share.
    Call it on the event loop (the limiter is the running loop's)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = count


class WithDeliverer:
    """The application, plus the webhook deliverer tied to the ASGI lifespan."""

    def __init__(
        self, app: RequestPipeline, deliverer: Deliverer, threads: int = DEFAULT_THREADS
    ) -> None:
        self.app = app
        self.deliverer = deliverer
        self.threads = threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        # The recorder of refused token request heads, for the HTTP server's parser.
        self.app.share_state(scope)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                use_threads(self.threads)
                self.deliverer.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.deliverer.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _deferred_bootstrap() -> dict[str, str | None] | None:
    """What ``kindling serve`` left for a deferred bootstrap (None: it bootstrapped)."""
    text = os.environ.get(DEFERRED_BOOTSTRAP_ENV)
    if not text:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    return found if isinstance(found, dict) else {"cacert": None}


def build_worker(settings: Settings) -> WithDeliverer:
    """Open storage, bootstrap if ``kindling serve`` could not, load the keys, build the app.

    Raises ``StorageUnavailable`` (with nothing left open) when the database does not
    answer, and ``ConfigurationError`` when it is unsafe to start.
    """
    ctx = build_context(settings)
    try:
        deferred = _deferred_bootstrap()
        if deferred is not None:
            result = bootstrap(ctx, settings.public_issuer())
            lines = first_run_lines(result, deferred.get("cacert"))
            if lines:
                print("\n".join(lines), flush=True)
        ctx.keyring.reload()
        return WithDeliverer(create_app(ctx), Deliverer(ctx), settings.threads)
    except BaseException:
        ctx.close()
        raise


class DeferredStart:
    """A worker that started before its database answered (see the module docstring)."""

    def __init__(self, settings: Settings, error: StorageUnavailable) -> None:
        self.settings = settings
        self.ready: WithDeliverer | None = None
        self._checks = starting_checks(error)
        self._starting: ASGIApp = RequestPipeline(
            StartingApp(lambda: self._checks), (), settings.max_header_bytes
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: str | None = error.reason
        log.warning(
            "the database is unavailable (%s): serving 503 until it answers; "
            "/readyz says what is missing",
            error.reason,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        ready = self.ready
        if ready is not None:
            await ready.app(scope, receive, send)
        else:
            await self._starting(scope, receive, send)

    def _head_refused(self, ip: str | None) -> None:
        """Audit a refused token request head once set up (nothing is audited before)."""
        ready = self.ready
        if ready is not None and ready.app.head_refused is not None:
            ready.app.head_refused(ip)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state")
        if isinstance(state, dict):
            state[HEAD_REFUSED_STATE] = self._head_refused
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                use_threads(self.settings.threads)
                self._thread = threading.Thread(
                    target=self._retry, name="kindling-startup", daemon=True
                )
                self._thread.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._stop.set()
                if self._thread is not None:
                    await asyncio.to_thread(self._thread.join, 5.0)
                if self.ready is not None:
                    await asyncio.to_thread(self.ready.deliverer.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _failed(self, cause: str, checks: dict[str, str], exc: Exception | None) -> None:
        self._checks = checks
        if cause != self._error:
            self._error = cause
            if exc is None:
                log.warning("set-up is waiting for the database (%s)", cause)
            else:
                log.error("set-up failed (%s); retrying", cause, exc_info=exc)

    def _retry(self) -> None:
        """Retry ``build_worker`` with back-off until it succeeds or the worker stops."""
        delay = FIRST_RETRY
        while not self._stop.wait(delay):
            delay = min(delay * 2, MAX_RETRY)
            try:
                ready = build_worker(self.settings)
            except StorageUnavailable as exc:
                self._failed(exc.reason, starting_checks(exc), None)
                continue
            except ConfigurationError as exc:
                log.critical("refusing to start: %s", exc.message)
                os._exit(EXIT_CONFIGURATION)
            except Exception as exc:
                self._failed(type(exc).__name__, starting_checks(exc), exc)
                continue
            if self._stop.is_set():
                return  # shutting down: the process ends without serving it
            ready.deliverer.start()
            self.ready = ready
            log.warning("the database answers: set-up is complete and the worker is ready")
            return


def from_env() -> WithDeliverer | DeferredStart:
    """The worker's application; a ``DeferredStart`` while the database does not answer."""
    settings = Settings.from_env()
    use_limits(limits_from(settings))
    try:
        return build_worker(settings)
    except StorageUnavailable as exc:
        return DeferredStart(settings, exc)
