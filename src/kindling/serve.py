"""``kindling serve``: first-run setup, TLS, the banner, and uvicorn.

Worker processes are started by uvicorn from ``kindling.web.asgi:from_env``;
they read the same ``KINDLING_*`` settings, which ``run`` exports. Logging is
configured through uvicorn's ``log_config`` (``kindling.web.logs.logging_config``),
which uvicorn applies in every worker process too; the access log is written by
the request pipeline (``kindling.web.pipeline``), so uvicorn's own is off.

The HTTP parser bounds the request head (``KINDLING_MAX_HEADER_BYTES``): with httptools
through ``kindling.web.http_limits`` (uvicorn puts no bound on it), with h11 where
httptools is missing through uvicorn's own ``h11_max_incomplete_event_size``. The rate
limits (``KINDLING_RATE_LIMIT_*``) are checked here, before the banner, so a typo stops
the server at once instead of in every worker.

With the database down (or its write lock held past the bounded wait) ``run`` does not
exit: it prints the banner without secrets, says why, and starts uvicorn; the workers
finish the set-up themselves once the database answers, and the one that creates the
first run's secrets prints them (``kindling.web.asgi``, "Starting without the database").

**Listening comes first.** ``run`` binds the listening socket(s) (``bind``) before it
opens the data dir or prints anything, and hands them to uvicorn: an address in use (or
not ours to bind) stops ``kindling serve`` with one line (``ListenError``: "cannot listen
on 127.0.0.1:8000: address already in use"), before a master key, a database or a
first run's secrets exist.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import logging
import os
import shlex
import socket
import sys
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from kindling.bootstrap import BootstrapResult, bootstrap
from kindling.config import Settings
from kindling.context import build_context
from kindling.crypto import masterkey
from kindling.crypto.errors import KeyMaterialError
from kindling.crypto.tls import TLSFiles, ensure_local_tls
from kindling.platform.context import Context
from kindling.platform.engine import StorageUnavailable, limits_from, use_limits
from kindling.platform.errors import ConfigurationError, KindlingError
from kindling.resources.apis.service import management_audience
from kindling.web.asgi import DEFERRED_BOOTSTRAP_ENV, first_run_lines
from kindling.web.logs import logging_config
from kindling.web.ratelimit import Policy, RateLimitSettingsError
from kindling.web.workers import prepare_workers

if TYPE_CHECKING:
    # Only ``serve --seed FILE`` has one, read by ``kindling.cli.environment_file``.
    from kindling.environment_file.seeding import Seed

#: uvicorn's ``http`` for ``kindling serve``: httptools with the head bound, else h11.
BOUNDED_HTTPTOOLS = "kindling.web.http_limits:BoundedHttpToolsProtocol"
#: The listen backlog of the sockets ``bind`` makes (uvicorn's default).
BACKLOG = 2048
#: uvicorn's exit status when the server could not start.
STARTUP_FAILURE = 3


class ListenError(KindlingError):
    """The address to serve on cannot be listened on (in use, not ours, unknown)."""


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind(host: str, port: int) -> list[socket.socket]:
    """Listen on every address ``host`` resolves to, as uvicorn's own server would.

    Raises ``ListenError`` with one line ("cannot listen on HOST:PORT: address already
    in use") and leaves nothing open when any of them cannot be bound.
    """
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {_address(host, port)}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    seen: set[tuple[int, Any]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        reason = (
            "address already in use"
            if exc.errno == errno.EADDRINUSE
            else (exc.strerror or str(exc)).lower()
        )
        raise ListenError(f"cannot listen on {_address(host, port)}: {reason}") from None
    return sockets


def _log_listening(sockets: list[socket.socket], tls: bool) -> None:
    """uvicorn's "Uvicorn running on ..." line, once per socket it was handed."""
    logger = logging.getLogger("uvicorn.error")
    for sock in sockets:
        name = sock.getsockname()
        host, port = str(name[0]), int(name[1])
        url = f"{'https' if tls else 'http'}://{_address(host, port)}"
        logger.info("Uvicorn running on %s (Press CTRL+C to quit)", url)


class _Server(uvicorn.Server):
    """uvicorn's server, saying where it listens once it serves the sockets it was given."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and sockets:
            _log_listening(sockets, self.config.is_ssl)


def http_protocol() -> str:
    """``BOUNDED_HTTPTOOLS`` when httptools is installed (a dependency), else h11."""
    return BOUNDED_HTTPTOOLS if importlib.util.find_spec("httptools") else "h11"


def _tls_files(settings: Settings, password: str) -> TLSFiles | None:
    if not settings.tls:
        return None
    if settings.tls_cert is not None and settings.tls_key is not None:
        return TLSFiles(
            ca_cert=None, cert=settings.tls_cert, key=settings.tls_key, key_password=None
        )
    hostnames = list(settings.tls_hostnames)
    if settings.host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", ""):
        hostnames.append(settings.host)
    return ensure_local_tls(settings.data_dir / "tls", hostnames, password)


def banner(
    result: BootstrapResult,
    settings: Settings,
    tls: TLSFiles | None,
    deferred: StorageUnavailable | None = None,
) -> str:
    """What ``kindling serve`` prints before it serves; ``deferred``: why set-up waits."""
    issuer = result.issuer
    lines = [f"Kindling is serving {issuer}", f"  issuer:         {issuer}"]
    lines.append(f"  token endpoint: {issuer}/oauth2/token")
    lines.append(f"  JWKS:           {issuer}/.well-known/jwks")
    lines.append(f"  Management API: {result.audience} (audience)")
    lines.append(f"  admin console:  {issuer}/admin")
    lines.append(f"  API docs:       {issuer}/api/docs")
    ca_path = None
    if tls is not None and tls.ca_cert is not None:
        ca = ca_path = str(tls.ca_cert.resolve())
        lines += [
            "",
            f"Local CA: {ca}",
            "Trust it in the official Kinde SDKs with:",
            f"  export REQUESTS_CA_BUNDLE={shlex.quote(ca)}   # Python: token requests",
            f"  export SSL_CERT_FILE={shlex.quote(ca)}        # Python: API calls",
            f"  export NODE_EXTRA_CA_CERTS={shlex.quote(ca)}  # Node.js",
        ]
    if result.previous_issuer and result.previous_issuer != issuer:
        lines += [
            "",
            f"The issuer changed from {result.previous_issuer}; tokens it issued "
            "no longer verify here.",
        ]
    lines += first_run_lines(result, ca_path)
    if deferred is not None:
        lines += [
            "",
            f"The database is not answering ({deferred.reason}): the server starts anyway,",
            "answers /healthz, and answers /readyz and every API call 503 until it does.",
            "It finishes setting up by itself once the database answers; on a first run the",
            "bootstrap application's secret and the admin password are printed then, once.",
        ]
    return "\n".join(lines)


def _master_key(settings: Settings) -> masterkey.MasterKey:
    """The master key (``build_context`` has loaded or created it already; no storage)."""
    try:
        return masterkey.load_or_create(settings.data_dir, settings.master_key)
    except KeyMaterialError as exc:
        raise ConfigurationError(str(exc)) from None


def run(settings: Settings, access_log: bool = True, seed: Seed | None = None) -> None:
    """Set up, print the banner and serve; ``access_log`` turns the pipeline's access log on.

    ``seed`` (``kindling serve --seed FILE``) is applied after the first-run set-up and
    before the banner, so its pinned applications get tokens from the first request on;
    it needs the database (no deferred start).
    """
    log_config = logging_config(settings.log_format, access_log, settings.log_level)
    if settings.rate_limits:
        try:
            Policy.from_settings(settings)
        except RateLimitSettingsError as exc:
            raise KindlingError(str(exc)) from None
    use_limits(limits_from(settings))
    # Listen first: an address in use stops here, before anything exists or is printed.
    sockets = bind(settings.host, settings.port)
    try:
        _set_up_and_serve(settings, log_config, sockets, seed)
    except KeyboardInterrupt:
        pass
    finally:
        for sock in sockets:
            sock.close()


def _apply_seed(
    ctx: Context, seed: Seed | None, result: BootstrapResult
) -> tuple[list[str], KindlingError | None]:
    """Apply ``seed``: its banner lines, or the error that refused it. A refused seed
    stops ``serve`` at once, except on a first run, which prints the banner first: its
    bootstrap secret and admin password exist now and are shown only once."""
    if seed is None:
        return [], None
    try:
        return seed.apply(ctx), None
    except KindlingError as exc:
        if not result.first_run:
            raise
        return [], exc


def _set_up_and_serve(
    settings: Settings,
    log_config: dict[str, Any],
    sockets: list[socket.socket],
    seed: Seed | None = None,
) -> None:
    issuer = settings.public_issuer()
    deferred: StorageUnavailable | None = None
    try:
        ctx = build_context(settings)
        try:
            result = bootstrap(ctx, issuer)
            seeded, refused = _apply_seed(ctx, seed, result)
        finally:
            ctx.close()
    except StorageUnavailable as exc:
        if seed is not None:
            raise KindlingError(
                f"cannot apply the seed file {seed.name}: the database is not answering "
                f"({exc.reason})"
            ) from None
        # Start anyway (RELIABILITY-AND-USERS.md A12 case 45): the workers finish the
        # set-up, and print the first run's secrets, once the database answers.
        deferred = exc
        seeded, refused = [], None
        result = BootstrapResult(
            issuer=issuer,
            audience=management_audience(issuer),
            first_run=False,
            previous_issuer=None,
        )
    tls = _tls_files(settings, _master_key(settings).derive("tls-key-password").hex())
    if deferred is not None:
        cacert = str(tls.ca_cert.resolve()) if tls and tls.ca_cert else None
        os.environ[DEFERRED_BOOTSTRAP_ENV] = json.dumps({"cacert": cacert})
    else:
        os.environ.pop(DEFERRED_BOOTSTRAP_ENV, None)
    print("\n".join([banner(result, settings, tls, deferred), *seeded]), flush=True)
    if refused is not None:
        raise refused
    os.environ["KINDLING_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["KINDLING_ISSUER"] = issuer
    if settings.database_url:
        os.environ["KINDLING_DATABASE_URL"] = settings.database_url
    print(prepare_workers(settings), end="", flush=True)  # kindling.web.workers
    sys.stdout.flush()
    config = uvicorn.Config(
        "kindling.web.asgi:from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        ssl_certfile=str(tls.cert) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
        ssl_keyfile_password=tls.key_password if tls else None,
        # The request pipeline writes the access log (with request ids), not uvicorn.
        access_log=False,
        log_config=log_config,
        # X-Forwarded-* is the pipeline's (kindling.web.proxy: --trusted-proxies only).
        proxy_headers=False,
        server_header=False,
        http=http_protocol(),
        # Nothing here speaks WebSocket: without this uvicorn imports a WebSocket library
        # into every worker ("auto") to serve upgrades nobody asks for.
        ws="none",
        h11_max_incomplete_event_size=settings.max_header_bytes,
        log_level=settings.log_level,
        # The stdlib event loop, not uvloop: with a saturated worker, uvloop let some
        # connections wait up to ~1.9 s (p99 0.1-1.2 s at 64 connections) while the stdlib
        # loop serves them in turn; throughput is the same within noise because RSA signing
        # dominates (see bench/README.md).
        loop="asyncio",
    )
    if config.workers > 1:
        # As uvicorn does: the supervisor says where it listens, then starts the workers.
        _log_listening(sockets, config.is_ssl)
        Multiprocess(config, sockets=sockets).run()
        return
    server = _Server(config)
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(STARTUP_FAILURE)
