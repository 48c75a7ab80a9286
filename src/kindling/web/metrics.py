"""Prometheus metrics at ``/metrics`` (``prometheus_client``): a request-pipeline hook.

``MetricsHook`` plugs into the pipeline (``kindling.web.pipeline``): its ``after`` sees every
request once its response is sent, short-circuited ones (the rate limiter's 429s) too, and
counts it; its ``before`` answers ``GET /metrics`` in Prometheus' text exposition format.
``/metrics`` is not behind the Management API's bearer authentication (a scraper has no
Kinde token); it is on unless ``KINDLING_METRICS=off``, and, like ``/readyz``, belongs on a
network only the monitoring system reaches (firewall it at the proxy; docs/deployment.md).
It names no secret, token or user: client ids are the only identifiers in it.

The metrics:

* ``kindling_http_requests_total{method, route, status}`` and
  ``kindling_http_request_duration_seconds{method, route, status}`` (a histogram, from the
  moment the pipeline receives the request until its response is sent). ``route`` is the
  route *template* (``/api/v1/users/{user_id}``), never the raw path, so the number of
  series is bounded by the routes; requests that match no route are ``unmatched``, and a
  method outside HTTP's usual ones is ``other``.
* ``kindling_tokens_issued_total{client_id}``: 200s of ``POST /oauth2/token``.
  ``kindling_tokens_refused_total{client_id, status}``: every other answer there. The
  client id is bounded by the applications: a refused request's client id is the label
  only when that client has been issued a token by this process before (it exists and
  its owner knows it); any other is ``unknown``, so that guessing ids adds no series.
* ``kindling_rate_limited_total{entry_point}``: 429 answers (``token``, ``management``,
  ``kindling``, ...).
* ``kindling_webhook_deliveries{status}`` (``pending``, ``delivered``, ``failed``) and
  ``kindling_webhook_backlog`` (the pending ones), read from the database at scrape time:
  ``failed`` are deliveries given up after their retry window.
* ``kindling_db_connections{state}`` (``open``, ``in_use``), ``kindling_db_waiting`` and
  ``kindling_db_pool_max``: the database connections of the worker processes, summed.

**Workers.** With ``--workers N`` (N > 1) ``kindling serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at ``<data dir>/metrics`` (mode 0700, emptied at every
start; ``prepare_multiprocess``) before the workers start, so ``prometheus_client`` keeps
every worker's values in files there and a scrape, answered by whichever worker gets it,
adds them up (``MultiProcessCollector``). A worker that exits cleanly removes its live
gauges (``mark_process_dead``); its counters stay, as counters must. Each worker samples
its own pool every ``POOL_SAMPLE`` seconds for the pool gauges. With one worker (and in
process) the metrics live in the default registry, with the process collector's
``process_*`` metrics beside them.

**Cost on the token path.** ``after`` adds one dictionary lookup for the labelled children
of a (method, route, status), a counter increment, a histogram observation and, for the
token endpoint, the client id that the rate limiter's ``token_client_id`` reads and one
more increment: about 6 µs a request on a shared 2-core host (``bench/metrics_overhead.py``);
counted, 71.8 k instructions per 2-scope token, 11-17 µs native on a quiet host against the
~210 µs of its RS256 signature (``bench/token_instructions.py --metrics``, bench/README.md):
the largest single item beside the signature, most of it prometheus_client's locked
increments.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.routing import Mount

from kindling.oauth.metadata import INTROSPECTION_PATH, REVOCATION_PATH
from kindling.platform.context import Context
from kindling.platform.engine import StorageUnavailable
from kindling.resources.webhooks.service import webhooks_overview
from kindling.web.health import HEALTH_PATH, READY_PATH
from kindling.web.pipeline import TOKEN_PATH, HookResponse, RequestInfo
from kindling.web.ratelimit import token_client_id

__all__ = [
    "METRICS_PATH",
    "MULTIPROC_ENV",
    "MetricsHook",
    "metrics_hook",
    "prepare_multiprocess",
    "route_label",
]

log = logging.getLogger("kindling.metrics")

METRICS_PATH = "/metrics"
#: The classic text format ``generate_latest`` writes, which every Prometheus version reads
#: (newer ``prometheus_client`` releases label it ``version=1.0.0``, which 2.x does not know).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: ``prometheus_client``'s switch to multiprocess mode (read when it is imported).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Where ``kindling serve --workers N`` keeps the workers' metric files, in the data dir.
MULTIPROC_DIRNAME = "metrics"
#: Seconds between a worker's samples of its database pool (multiprocess mode).
POOL_SAMPLE = 5.0
#: Refused token requests of this many distinct client ids at most are labelled by id.
MAX_KNOWN_CLIENTS = 10_000

#: Request latencies: the token endpoint answers in a few milliseconds, list pages in tens.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Paths answered before the router (no ``scope["route"]``): their path is their template.
_FIXED = frozenset(
    {TOKEN_PATH, INTROSPECTION_PATH, REVOCATION_PATH, HEALTH_PATH, READY_PATH, METRICS_PATH}
)
UNMATCHED = "unmatched"
UNKNOWN_CLIENT = "unknown"

#: True when ``prometheus_client`` keeps values in ``PROMETHEUS_MULTIPROC_DIR`` files.
MULTIPROCESS = bool(os.environ.get(MULTIPROC_ENV))

REQUESTS = Counter(
    "kindling_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "kindling_http_request_duration_seconds",
    "Time from receiving a request to sending its response, by method, route and status.",
    ["method", "route", "status"],
    buckets=BUCKETS,
)
TOKENS_ISSUED = Counter(
    "kindling_tokens_issued",
    "Access tokens issued by POST /oauth2/token, by application (client id).",
    ["client_id"],
)
TOKENS_REFUSED = Counter(
    "kindling_tokens_refused",
    "Token requests refused, by application (client id, or unknown) and HTTP status.",
    ["client_id", "status"],
)
RATE_LIMITED = Counter(
    "kindling_rate_limited",
    "Requests refused with 429 by the rate limits, by entry point.",
    ["entry_point"],
)
DB_CONNECTIONS = Gauge(
    "kindling_db_connections",
    "Database connections of the worker processes: open, and in use by a transaction.",
    ["state"],
    multiprocess_mode="livesum",
)
DB_WAITING = Gauge(
    "kindling_db_waiting",
    "Sessions waiting for a pooled database connection (PostgreSQL).",
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "kindling_db_pool_max",
    "The bound of the database connection pools (PostgreSQL; 0 for SQLite).",
    multiprocess_mode="livesum",
)


def route_label(info: RequestInfo) -> str:
    """The route template of a request that has been answered (see the module docstring)."""
    path = info.path
    if path in _FIXED:
        return path
    scope = info.scope
    route = scope.get("route") if scope is not None else None
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED
    root = str(scope.get("root_path", "")) if scope is not None else ""
    if isinstance(route, Mount):
        # A mount that answers itself (static files): the root path already holds it.
        return f"{root}/{{path}}"
    return root + template


def prepare_multiprocess(data_dir: Path, workers: int) -> str | None:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an empty private directory for ``workers``
    worker processes (``kindling serve``, before they start).

    Returns the directory; for one worker the variable is left as it is (unset: the
    default registry) and its value returned. Values from an earlier run are removed:
    counters start again at zero with the server, as Prometheus expects.
    """
    if workers <= 1:
        return os.environ.get(MULTIPROC_ENV) or None
    directory = data_dir / MULTIPROC_DIRNAME
    if directory.is_dir():
        shutil.rmtree(directory)
    directory.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROC_ENV] = str(directory.resolve())
    return os.environ[MULTIPROC_ENV]


class _Scrape:
    """One scrape's collectors, as one collector (no names: nothing to describe)."""

    def __init__(self, sources: Iterable[Any], extra: list[Metric]) -> None:
        self._sources = list(sources)
        self._extra = extra

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            yield from source.collect()
        yield from self._extra


class MetricsHook:
    """Counts every request and answers ``GET /metrics`` (see the module docstring)."""

    def __init__(self, ctx: Context, multiprocess_mode: bool = MULTIPROCESS) -> None:
        self.ctx = ctx
        self.multiprocess = multiprocess_mode
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._issued: dict[str, Any] = {}
        self._refused: dict[tuple[str, int], Any] = {}
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if multiprocess_mode:
            atexit.register(_mark_dead, os.getpid())
            threading.Thread(target=self._sample_loop, name="kindling-metrics", daemon=True).start()

    # --- counting (event loop, after every response) ----------------------------------

    def after(self, request: RequestInfo, status: int, duration: float) -> None:
        method = request.method if request.method in _METHODS else "other"
        route = route_label(request)
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            code = str(status)
            children = self._children[key] = (
                REQUESTS.labels(method, route, code),
                LATENCY.labels(method, route, code),
            )
        children[0].inc()
        children[1].observe(duration)
        if route == TOKEN_PATH and method == "POST":
            self._token(request, status)
        if status == 429:
            RATE_LIMITED.labels(request.entry_point).inc()

    def _token(self, request: RequestInfo, status: int) -> None:
        client_id = token_client_id(request.headers, request.body)
        if status == 200 and client_id:
            counter = self._issued.get(client_id)
            if counter is None:
                counter = self._issued[client_id] = TOKENS_ISSUED.labels(client_id)
                if len(self._known) < MAX_KNOWN_CLIENTS:
                    self._known.add(client_id)
            counter.inc()
            return
        label = client_id if client_id in self._known else UNKNOWN_CLIENT
        refused = self._refused.get((label, status))
        if refused is None:
            refused = self._refused[(label, status)] = TOKENS_REFUSED.labels(label, str(status))
        refused.inc()

    # --- the scrape --------------------------------------------------------------------

    async def before(self, request: RequestInfo) -> HookResponse | None:
        if request.path != METRICS_PATH:
            return None
        if request.method not in ("GET", "HEAD"):
            return HookResponse.json(
                405,
                {"errors": [{"code": "METHOD_NOT_ALLOWED", "message": "Use GET"}]},
                {"allow": "GET, HEAD"},
            )
        # Files (multiprocess) and the database: off the event loop.
        body = await asyncio.to_thread(self.render)
        return HookResponse(200, body, (("cache-control", "no-store"),), content_type=CONTENT_TYPE)

    def render(self) -> bytes:
        """The exposition text: every worker's metrics (or this process's), and the
        webhook deliveries read from the database now."""
        self.sample_pool()
        sources: list[Any]
        if self.multiprocess:
            sources = [multiprocess.MultiProcessCollector(None)]  # type: ignore[no-untyped-call]
        else:
            sources = [REGISTRY]
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Scrape(sources, self._webhook_metrics()))
        return generate_latest(registry)

    def _webhook_metrics(self) -> list[Metric]:
        try:
            views = webhooks_overview(self.ctx.storage, recent=0)
        except StorageUnavailable as exc:
            log.debug("webhook metrics skipped: %s", exc.reason)
            return []
        counts = {"pending": 0, "delivered": 0, "failed": 0}
        for view in views:
            for status, count in view.counts.items():
                counts[status] = counts.get(status, 0) + count
        deliveries = GaugeMetricFamily(
            "kindling_webhook_deliveries",
            "Webhook deliveries in the database, by status (failed: given up).",
            labels=["status"],
        )
        for status, count in sorted(counts.items()):
            deliveries.add_metric([status], count)
        backlog = GaugeMetricFamily(
            "kindling_webhook_backlog",
            "Webhook deliveries not yet delivered or given up (pending).",
            value=counts["pending"],
        )
        return [deliveries, backlog]

    # --- the pool gauges ---------------------------------------------------------------

    def sample_pool(self) -> None:
        """Set this process's pool gauges from its engine (no I/O)."""
        with self._lock:
            usage = self.ctx.storage.engine.pool_usage()
            DB_CONNECTIONS.labels("open").set(usage.open)
            DB_CONNECTIONS.labels("in_use").set(usage.in_use)
            DB_WAITING.set(usage.waiting)
            DB_POOL_MAX.set(usage.max)

    def _sample_loop(self) -> None:
        while not self._stop.wait(POOL_SAMPLE):
            try:
                self.sample_pool()
            except Exception:  # never the reason a worker stops
                log.exception("sampling the database pool failed")

    def close(self) -> None:
        self._stop.set()


def _mark_dead(pid: int) -> None:
    """Drop a worker's live gauges from the multiprocess files when it exits."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory and os.path.isdir(directory):
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def metrics_hook(ctx: Context) -> MetricsHook:
    """The hook of a worker (``create_app`` with ``Settings.metrics`` on)."""
    return MetricsHook(ctx)
