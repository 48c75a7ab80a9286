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
"""

import importlib.util
import json
import os
import shlex
import sys

import uvicorn

from kindling.bootstrap import BootstrapResult, bootstrap
from kindling.config import Settings
from kindling.context import build_context
from kindling.crypto import masterkey
from kindling.crypto.errors import KeyMaterialError
from kindling.crypto.tls import TLSFiles, ensure_local_tls
from kindling.platform.engine import StorageUnavailable, limits_from, use_limits
from kindling.platform.errors import ConfigurationError, KindlingError
from kindling.resources.apis.service import management_audience
from kindling.web.asgi import DEFERRED_BOOTSTRAP_ENV, first_run_lines
from kindling.web.logs import logging_config
from kindling.web.ratelimit import Policy, RateLimitSettingsError

#: uvicorn's ``http`` for ``kindling serve``: httptools with the head bound, else h11.
BOUNDED_HTTPTOOLS = "kindling.web.http_limits:BoundedHttpToolsProtocol"


def http_protocol() -> str:
    """``BOUNDED_HTTPTOOLS`` when httptools is installed (``uvicorn[standard]``), else h11."""
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


def run(settings: Settings, access_log: bool = True) -> None:
    """Set up, print the banner and serve; ``access_log`` turns the pipeline's access log on."""
    log_config = logging_config(settings.log_format, access_log)
    if settings.rate_limits:
        try:
            Policy.from_settings(settings)
        except RateLimitSettingsError as exc:
            raise KindlingError(str(exc)) from None
    use_limits(limits_from(settings))
    issuer = settings.public_issuer()
    deferred: StorageUnavailable | None = None
    try:
        ctx = build_context(settings)
        try:
            result = bootstrap(ctx, issuer)
        finally:
            ctx.close()
    except StorageUnavailable as exc:
        # Start anyway (RELIABILITY-AND-USERS.md A12 case 45): the workers finish the
        # set-up, and print the first run's secrets, once the database answers.
        deferred = exc
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
    print(banner(result, settings, tls, deferred), flush=True)
    os.environ["KINDLING_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["KINDLING_ISSUER"] = issuer
    if settings.database_url:
        os.environ["KINDLING_DATABASE_URL"] = settings.database_url
    sys.stdout.flush()
    uvicorn.run(
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
        proxy_headers=False,
        server_header=False,
        http=http_protocol(),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        log_level="info",
        # The stdlib event loop, not uvloop: with a saturated worker, uvloop let some
        # connections wait up to ~1.9 s (p99 0.1-1.2 s at 64 connections) while the stdlib
        # loop serves them in turn; throughput is the same within noise because RSA signing
        # dominates (see bench/README.md).
        loop="asyncio",
    )
