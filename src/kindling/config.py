"""Settings: one place that reads command-line options and ``KINDLING_*`` variables.

Command-line options win over environment variables, which win over defaults.
Nothing here opens files or databases; ``kindling.context.build_context`` does.
"""

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = "./kindling-data"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: ``text`` or ``json`` (one JSON object per log line); see ``kindling.web.logs``.
DEFAULT_LOG_FORMAT = "text"
#: Webhook deliveries (``kindling.resources.webhooks``): how long a delivery is retried
#: (``KINDLING_WEBHOOK_RETRY_WINDOW``), the base delay of its exponential back-off
#: (``KINDLING_WEBHOOK_RETRY_BASE``) and how long one attempt may take, connecting and
#: reading the answer together (``KINDLING_WEBHOOK_TIMEOUT``), all in seconds.
DEFAULT_WEBHOOK_RETRY_WINDOW = 86_400.0
DEFAULT_WEBHOOK_RETRY_BASE = 5.0
DEFAULT_WEBHOOK_TIMEOUT = 10.0
#: Rate limits (``kindling.web.ratelimit``; the numbers and their reasons are in
#: docs/security.md). Each is in the ``limits`` string syntax, several joined by ``;``
#: (``"50/second;1000/minute"``), or ``off``. Counted per client id on the token endpoint
#: (``KINDLING_RATE_LIMIT_TOKEN``) and per peer address (``..._TOKEN_IP``); failed client
#: authentication per client id (``..._TOKEN_FAILURES``) and per address
#: (``..._TOKEN_FAILURES_IP``); the Management API per application
#: (``KINDLING_RATE_LIMIT_API``) and, for requests without a valid token, per address
#: (``..._API_ANONYMOUS``).
DEFAULT_RATE_LIMIT_TOKEN = "50/second"
DEFAULT_RATE_LIMIT_TOKEN_IP = "200/second"
DEFAULT_RATE_LIMIT_TOKEN_FAILURES = "10/minute"
DEFAULT_RATE_LIMIT_TOKEN_FAILURES_IP = "30/minute"
DEFAULT_RATE_LIMIT_API = "2000/second"
DEFAULT_RATE_LIMIT_API_ANONYMOUS = "2000/second"
#: The largest request head (request line and headers) the server reads, in bytes
#: (``KINDLING_MAX_HEADER_BYTES``): three times a token that carries all 149 Management API
#: scopes (10.2 kB).
DEFAULT_MAX_HEADER_BYTES = 32_768
#: Database faults (``kindling.platform.engine.EngineLimits``; docs/security.md, "Database
#: faults"): the bound, in seconds, of connecting to PostgreSQL
#: (``KINDLING_DB_CONNECT_TIMEOUT``; libpq counts whole seconds, at least 2), of waiting for
#: a pooled connection (``KINDLING_DB_POOL_TIMEOUT``), of one statement
#: (``KINDLING_DB_STATEMENT_TIMEOUT``) and one lock wait (``KINDLING_DB_LOCK_TIMEOUT``), of
#: waiting for SQLite's write lock (``KINDLING_SQLITE_BUSY_TIMEOUT``); PostgreSQL
#: connections per worker (``KINDLING_DB_POOL_SIZE``).
DEFAULT_DB_CONNECT_TIMEOUT = 2.0
DEFAULT_DB_POOL_TIMEOUT = 2.0
DEFAULT_DB_STATEMENT_TIMEOUT = 5.0
DEFAULT_DB_LOCK_TIMEOUT = 2.0
DEFAULT_SQLITE_BUSY_TIMEOUT = 2.0
DEFAULT_DB_POOL_SIZE = 10
#: Threads per worker process that run blocking work off the event loop (storage on
#: PostgreSQL, the token endpoint there, writes on SQLite; ``KINDLING_THREADS``): anyio's
#: default thread limiter, set at start-up (``kindling.web.asgi``). The default is anyio's
#: own, 40. Fewer shorten the tail with a database on the same host, where each thread's
#: work is mostly Python and more runnable threads only queue for the GIL:
#: ``GET /users?page_size=100`` on PostgreSQL at 16 connections, p99 31-42 ms with 40
#: threads, 19-26 ms with 10, 7.7-8.1 ms with 4, at the same or a higher rate
#: (bench/README.md). The price is in faults: a request waiting on a held lock or an
#: exhausted pool holds its thread for the whole bounded wait (2 s by default), so with N
#: threads, M such requests get their 503 after about M / N waits, not one. A database
#: far away (milliseconds per round trip) wants more threads, not fewer.
DEFAULT_THREADS = 40
#: How many days audit rows are kept (``KINDLING_AUDIT_RETENTION_DAYS``; 0 keeps them
#: forever); older ones are pruned by the audit writer (``kindling.platform.audit``).
DEFAULT_AUDIT_RETENTION_DAYS = 365
#: ``kindling serve --log-level`` / ``KINDLING_LOG_LEVEL``: the level of the server's own and
#: uvicorn's loggers (the access log has its own switch, ``--access-log``).
DEFAULT_LOG_LEVEL = "info"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _seconds(name: str, default: float) -> float:
    """A positive number of seconds from ``name`` (``default`` when unset or empty)."""
    text = os.environ.get(name) or ""
    if not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a positive number of seconds")
    return value


def _switch(name: str, default: bool) -> bool:
    """``on``/``off`` (also ``true``/``false``, ``1``/``0``, ``yes``/``no``) from ``name``."""
    text = (os.environ.get(name) or "").strip().lower()
    if not text:
        return default
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"{name} must be on or off, not {text!r}")


def _byte_count(name: str, default: int, least: int) -> int:
    """A whole number of bytes of at least ``least`` from ``name``."""
    text = (os.environ.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < least:
        raise ValueError(f"{name} must be a whole number of bytes, at least {least}")
    return int(text)


def _days(name: str, default: int) -> int:
    """A whole number of days (0 or more) from ``name``."""
    text = (os.environ.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number of days (0 keeps everything)")
    return int(text)


def _count(name: str, default: int, least: int) -> int:
    """A whole number of at least ``least`` from ``name``."""
    text = (os.environ.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < least:
        raise ValueError(f"{name} must be a whole number, at least {least}")
    return int(text)


def _log_level(name: str, default: str) -> str:
    """One of ``LOG_LEVELS`` from ``name`` (any case)."""
    text = (os.environ.get(name) or "").strip().lower()
    if not text:
        return default
    if text not in LOG_LEVELS:
        raise ValueError(f"{name} must be one of {', '.join(LOG_LEVELS)}, not {text!r}")
    return text


def parse_proxies(text: str, name: str = "KINDLING_TRUSTED_PROXIES") -> tuple[str, ...]:
    """Addresses and CIDR networks (``10.0.0.0/8, 127.0.0.1, ::1``), comma or space
    separated, normalized (``10.0.0.1/32``); a malformed one raises ``ValueError``."""
    found: list[str] = []
    for item in text.replace(",", " ").split():
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(
                f"{name} must list IP addresses or CIDR networks (10.0.0.0/8), not {item!r}"
            ) from None
    return tuple(found)


@dataclass(frozen=True)
class Settings:
    """Every option of the server and CLI."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str | None = None
    issuer: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_hostnames: tuple[str, ...] = field(default=())
    master_key: str | None = field(default=None, repr=False)
    workers: int = 1
    #: ``package.module:function`` called for every M2M token to add custom claims.
    claims_hook: str | None = None
    #: When set, application property values are added to M2M tokens under this claim.
    app_properties_claim: str | None = None
    #: How ``kindling serve`` writes log lines: ``text`` or ``json`` (``KINDLING_LOG_FORMAT``).
    log_format: str = DEFAULT_LOG_FORMAT
    webhook_retry_window: float = DEFAULT_WEBHOOK_RETRY_WINDOW
    webhook_retry_base: float = DEFAULT_WEBHOOK_RETRY_BASE
    webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT
    #: Rate limiting (``KINDLING_RATE_LIMITS``, ``on`` unless ``off``). ``from_env`` (so
    #: ``kindling serve``) turns it on by default; settings built in code (embedding, tests)
    #: leave it off unless asked, so an in-process application counts nothing.
    rate_limits: bool = False
    rate_limit_token: str = DEFAULT_RATE_LIMIT_TOKEN
    rate_limit_token_ip: str = DEFAULT_RATE_LIMIT_TOKEN_IP
    rate_limit_token_failures: str = DEFAULT_RATE_LIMIT_TOKEN_FAILURES
    rate_limit_token_failures_ip: str = DEFAULT_RATE_LIMIT_TOKEN_FAILURES_IP
    rate_limit_api: str = DEFAULT_RATE_LIMIT_API
    rate_limit_api_anonymous: str = DEFAULT_RATE_LIMIT_API_ANONYMOUS
    #: ``redis://`` (or ``rediss://``) URL whose Redis keeps the rate-limit counters, so that
    #: workers and instances share them (``KINDLING_REDIS_URL``); in process when unset.
    redis_url: str | None = field(default=None, repr=False)
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    db_connect_timeout: float = DEFAULT_DB_CONNECT_TIMEOUT
    db_pool_timeout: float = DEFAULT_DB_POOL_TIMEOUT
    db_statement_timeout: float = DEFAULT_DB_STATEMENT_TIMEOUT
    db_lock_timeout: float = DEFAULT_DB_LOCK_TIMEOUT
    sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT
    db_pool_size: int = DEFAULT_DB_POOL_SIZE
    threads: int = DEFAULT_THREADS
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS
    #: Apply pending schema migrations when storage opens (``KINDLING_MIGRATE``, ``on``);
    #: off (``--no-migrate``): refuse a schema that is not current instead.
    migrate: bool = True
    #: The level of the server's loggers (``KINDLING_LOG_LEVEL``; ``LOG_LEVELS``).
    log_level: str = DEFAULT_LOG_LEVEL
    #: Peers whose ``X-Forwarded-For/-Proto/-Host`` are believed (``KINDLING_TRUSTED_PROXIES``):
    #: normalized networks (``parse_proxies``); none by default.
    proxies: tuple[str, ...] = field(default=())
    #: ``/metrics`` in Prometheus' text format (``KINDLING_METRICS``). ``from_env`` (so
    #: ``kindling serve``) turns it on by default; settings built in code leave it off.
    metrics: bool = False

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Build settings from ``KINDLING_*`` variables, then apply non-None overrides."""
        env = os.environ
        values: dict[str, object] = {
            "data_dir": Path(env.get("KINDLING_DATA_DIR", DEFAULT_DATA_DIR)),
            "database_url": env.get("KINDLING_DATABASE_URL") or None,
            "issuer": env.get("KINDLING_ISSUER") or None,
            "master_key": env.get("KINDLING_MASTER_KEY") or None,
            "claims_hook": env.get("KINDLING_TOKEN_CLAIMS_HOOK") or None,
            "app_properties_claim": env.get("KINDLING_APP_PROPERTIES_CLAIM") or None,
            "log_format": (env.get("KINDLING_LOG_FORMAT") or DEFAULT_LOG_FORMAT).lower(),
            "webhook_retry_window": _seconds(
                "KINDLING_WEBHOOK_RETRY_WINDOW", DEFAULT_WEBHOOK_RETRY_WINDOW
            ),
            "webhook_retry_base": _seconds(
                "KINDLING_WEBHOOK_RETRY_BASE", DEFAULT_WEBHOOK_RETRY_BASE
            ),
            "webhook_timeout": _seconds("KINDLING_WEBHOOK_TIMEOUT", DEFAULT_WEBHOOK_TIMEOUT),
            "rate_limits": _switch("KINDLING_RATE_LIMITS", True),
            "rate_limit_token": env.get("KINDLING_RATE_LIMIT_TOKEN") or DEFAULT_RATE_LIMIT_TOKEN,
            "rate_limit_token_ip": (
                env.get("KINDLING_RATE_LIMIT_TOKEN_IP") or DEFAULT_RATE_LIMIT_TOKEN_IP
            ),
            "rate_limit_token_failures": (
                env.get("KINDLING_RATE_LIMIT_TOKEN_FAILURES") or DEFAULT_RATE_LIMIT_TOKEN_FAILURES
            ),
            "rate_limit_token_failures_ip": (
                env.get("KINDLING_RATE_LIMIT_TOKEN_FAILURES_IP")
                or DEFAULT_RATE_LIMIT_TOKEN_FAILURES_IP
            ),
            "rate_limit_api": env.get("KINDLING_RATE_LIMIT_API") or DEFAULT_RATE_LIMIT_API,
            "rate_limit_api_anonymous": (
                env.get("KINDLING_RATE_LIMIT_API_ANONYMOUS") or DEFAULT_RATE_LIMIT_API_ANONYMOUS
            ),
            "redis_url": env.get("KINDLING_REDIS_URL") or None,
            "audit_retention_days": _days(
                "KINDLING_AUDIT_RETENTION_DAYS", DEFAULT_AUDIT_RETENTION_DAYS
            ),
            "max_header_bytes": _byte_count(
                "KINDLING_MAX_HEADER_BYTES", DEFAULT_MAX_HEADER_BYTES, 4096
            ),
            "db_connect_timeout": _seconds(
                "KINDLING_DB_CONNECT_TIMEOUT", DEFAULT_DB_CONNECT_TIMEOUT
            ),
            "db_pool_timeout": _seconds("KINDLING_DB_POOL_TIMEOUT", DEFAULT_DB_POOL_TIMEOUT),
            "db_statement_timeout": _seconds(
                "KINDLING_DB_STATEMENT_TIMEOUT", DEFAULT_DB_STATEMENT_TIMEOUT
            ),
            "db_lock_timeout": _seconds("KINDLING_DB_LOCK_TIMEOUT", DEFAULT_DB_LOCK_TIMEOUT),
            "sqlite_busy_timeout": _seconds(
                "KINDLING_SQLITE_BUSY_TIMEOUT", DEFAULT_SQLITE_BUSY_TIMEOUT
            ),
            "db_pool_size": _count("KINDLING_DB_POOL_SIZE", DEFAULT_DB_POOL_SIZE, 1),
            "threads": _count("KINDLING_THREADS", DEFAULT_THREADS, 1),
            "migrate": _switch("KINDLING_MIGRATE", True),
            "log_level": _log_level("KINDLING_LOG_LEVEL", DEFAULT_LOG_LEVEL),
            "proxies": parse_proxies(env.get("KINDLING_TRUSTED_PROXIES") or ""),
            "metrics": _switch("KINDLING_METRICS", True),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def public_issuer(self) -> str:
        """The issuer: configured, else derived from scheme, host and port; no trailing slash."""
        if self.issuer:
            return self.issuer.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", "127.0.0.1", ""):
            host = "localhost"
        default_port = 443 if self.tls else 80
        port = "" if self.port == default_port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"
