"""Rate limits on the token endpoint and the Management API: a request-pipeline hook.

RFC 6749 §2.3.1 requires an authorization server to protect password-style client
authentication against brute force; Kinde throttles both its token endpoint and its
Management API and answers 429 with ``RateLimit-Reset`` (docs: "API rate limits"),
without publishing numbers. Auth0 publishes its (A9 in the design notes); the defaults
(``kindling.config``) and why they are what they are are in docs/security.md.

``RateLimitHook.before`` runs in ``kindling.web.pipeline`` ahead of every entry point:

* ``POST /oauth2/token`` (and the other endpoints that take a client secret,
  ``CLIENT_AUTH_PATHS``: introspection and revocation share the budgets, or they would
  be a way around them): refused while the peer address, or the client id the request
  names, has used up its budget of *failed* client authentications (401
  ``invalid_client``), even with the right secret, which is what stops guessing; then
  one request is counted against the address and one against the client id. The
  client id comes from the ``Authorization: Basic`` header or the form body
  (``client_secret_post``), which the pipeline reads ahead for hooks. ``after`` counts
  each 401 against both failure budgets.
* ``/api/v1`` and ``/kindling/v1``: one request is counted against the application
  whose bearer token it carries. The hook asks the Management API's own verified-bearer
  cache (``kindling.web.bearer_cache.BearerVerifier``, the same instance, shared by
  ``create_app``), so a token names its application here exactly while the API would
  accept it: until ``exp`` plus the leeway, and not once it is revoked (RFC 7009) or its
  key is, because a new keyring view empties that cache. A token remembered under the
  current view costs a lookup on the event loop; any other check (a new token, or a
  view that needs a database read) runs in a worker thread, never on the event loop: on
  PostgreSQL the view is a database read, and a database that does not answer would
  otherwise stop every request of the worker for the pool's timeout. The verification
  there fills the cache the API then answers from, so a token costs one RS256
  verification per process. A key taken from an unverified token would let anyone who
  knows a client id (it is in every token) spend that application's budget, so a
  request without a valid token (none, a forged, expired or revoked one) is counted
  against its peer address instead.

Every 429 of the client-authentication endpoints is audited (A12 case 22: brute force
leaves an audit event) through the batched writer, as the endpoints' own refusals are
(``platform.audit.AuditWriter.refusal``): a ``token.refused`` row (introspection:
``token.introspection_refused``, revocation: ``token.revocation_refused``) with the
error ``too_many_requests``, the client id named, the peer address, and the limit
(``details.limit``, of the first refusal a row counts). Refusals of the same client,
address and code in one second are one row with a ``count``, so a flood costs a dict
update per request and a bounded number of rows.

A request over a limit is answered 429 with ``Retry-After`` (RFC 9110 §10.2.3) and
``RateLimit-Reset`` (Kinde's header), both in whole seconds: on the token endpoint in
the OAuth error shape, ``{"error": "too_many_requests", "error_description": ...}``
(RFC 6749 §5.2 defines no code for throttling; RFC 8628's ``slow_down`` belongs to the
device flow's polling and would tell a client_credentials client nothing it knows how
to handle), elsewhere in Kinde's ``error_response`` with ``TOO_MANY_REQUESTS``.

Counting uses a moving window: a limit of N per period admits at most N requests in
*any* period-long span (a fixed window admits 2N across a boundary), and the reset
time is exact: when the oldest counted request leaves the window. In process by
default, on the monotonic clock (``MonotonicWindows``), so a step of the wall clock
(NTP, a VM resumed) neither empties nor stretches a window (A12 case 53); in Redis when
``KINDLING_REDIS_URL`` is set (the ``limits`` library's moving window), so every worker
and instance shares the counters (keys are prefixed with a digest of the issuer).
Shared windows need a clock every host shares, so there they are on the wall clock.
If Redis cannot be reached the hook logs one warning, counts in process, and tries
Redis again after ``REDIS_RETRY`` seconds; a request never fails because of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote_plus

import anyio.to_thread

from kindling.config import Settings
from kindling.oauth.bearer import BearerError, Principal
from kindling.oauth.errors import OAuthError
from kindling.oauth.metadata import INTROSPECTION_PATH, REVOCATION_PATH
from kindling.oauth.requests import parse_basic
from kindling.platform import audit
from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.engine import StorageUnavailable
from kindling.resources.apis.service import management_audience
from kindling.web.bearer_cache import BearerVerifier, hand_over
from kindling.web.pipeline import CLIENT_AUTH_PATHS, TOKEN_PATH, HookResponse, RequestInfo
from kindling.web.rates import Rate, limits_item, parse_rates

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow

__all__ = [
    "BearerCheck",
    "Counters",
    "MonotonicWindows",
    "Policy",
    "RateLimitHook",
    "RateLimitSettingsError",
    "rate_limit_hook",
    "token_client_id",
]

log = logging.getLogger("kindling.ratelimit")

#: Seconds between attempts to reach Redis again after it failed.
REDIS_RETRY = 30.0
#: Redis answers on a healthy network in well under a millisecond; a request waits no
#: longer than this (seconds) for a Redis that stopped answering.
REDIS_TIMEOUT = 0.25
#: Longer client ids are keyed by their SHA-256 (Kindling's are 32 hex characters).
MAX_KEY = 128

Limits = tuple[Rate, ...]


class RateLimitSettingsError(ValueError):
    """A ``KINDLING_RATE_LIMIT_*`` value is not in the ``limits`` syntax."""


def _parse(name: str, text: str) -> Limits:
    """``"50/second;1000/minute"`` (``limits`` syntax, ``;`` or ``,`` between) or ``off``."""
    if text.strip().lower() in ("off", "none"):
        return ()
    try:
        return parse_rates(text)
    except ValueError:
        raise RateLimitSettingsError(
            f"{name} must be rate limits such as 50/second or 10/minute;1000/hour, "
            f"or off, not {text!r}"
        ) from None


@dataclass(frozen=True)
class Policy:
    """The parsed limits of every bucket (see ``kindling.config`` for the variables)."""

    token: Limits
    token_ip: Limits
    token_failures: Limits
    token_failures_ip: Limits
    api: Limits
    api_anonymous: Limits

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """Parse every bucket; a bad one raises ``RateLimitSettingsError`` naming its variable."""
        return cls(
            token=_parse("KINDLING_RATE_LIMIT_TOKEN", settings.rate_limit_token),
            token_ip=_parse("KINDLING_RATE_LIMIT_TOKEN_IP", settings.rate_limit_token_ip),
            token_failures=_parse(
                "KINDLING_RATE_LIMIT_TOKEN_FAILURES", settings.rate_limit_token_failures
            ),
            token_failures_ip=_parse(
                "KINDLING_RATE_LIMIT_TOKEN_FAILURES_IP", settings.rate_limit_token_failures_ip
            ),
            api=_parse("KINDLING_RATE_LIMIT_API", settings.rate_limit_api),
            api_anonymous=_parse(
                "KINDLING_RATE_LIMIT_API_ANONYMOUS", settings.rate_limit_api_anonymous
            ),
        )


class MonotonicWindows:
    """In-process moving windows timed by ``clock`` (``time.monotonic``: A12 case 53).

    Each (limit, key) keeps the times of the requests it counted, at most the limit's
    amount, oldest first; a hit drops the ones older than the window and counts one
    more if there is room. The ``limits`` library's memory storage would do the same on
    ``time.time()``, where a clock stepped back an hour keeps a client locked out for
    that hour and one stepped forward forgets every failure at once. Keys whose last
    request has left its window are swept once a minute, so memory follows the clients
    of the last window, not every client ever seen. A hit costs a few microseconds
    (3-4 µs measured on a loaded 2-core host; the library's memory storage, 20-25 µs).
    """

    SWEEP_INTERVAL = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[tuple[object, ...], tuple[float, deque[float]]] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + self.SWEEP_INTERVAL

    def _events(self, item: Rate, key: tuple[str, ...], now: float) -> deque[float]:
        length = float(item.get_expiry())
        slot = (item.amount, length, *key)
        found = self._windows.get(slot)
        if found is None:
            events: deque[float] = deque()
            self._windows[slot] = (length, events)
            return events
        events = found[1]
        while events and events[0] <= now - length:
            events.popleft()
        return events

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self.SWEEP_INTERVAL
        stale = [
            slot
            for slot, (length, events) in self._windows.items()
            if not events or events[-1] <= now - length
        ]
        for slot in stale:
            del self._windows[slot]

    def hit(self, item: Rate, *key: str) -> bool:
        """Count one request; False (and nothing counted) when ``item`` is used up."""
        now = self.clock()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            events = self._events(item, key, now)
            if len(events) >= item.amount:
                return False
            events.append(now)
            return True

    def test(self, item: Rate, *key: str) -> bool:
        """True while ``item`` has room for one more request (nothing counted)."""
        now = self.clock()
        with self._lock:
            return len(self._events(item, key, now)) < item.amount

    def reset_in(self, item: Rate, *key: str) -> float:
        """Seconds until the oldest counted request leaves the window (0 when none)."""
        now = self.clock()
        with self._lock:
            events = self._events(item, key, now)
            if not events:
                return 0.0
            return events[0] + float(item.get_expiry()) - now


def _shared(item: Rate | RateLimitItem) -> RateLimitItem:
    """The ``limits`` item for a Redis window: a ``Rate`` converted (once), one of the
    library's own items as it is."""
    return limits_item(item) if isinstance(item, Rate) else item


class Counters:
    """Moving-window counters: in Redis when configured, else (and while it is down) here.

    The in-process counters are ``MonotonicWindows`` on ``clock``, called directly on
    the event loop: a hit costs a few microseconds and no I/O. ``clock`` also times the
    pause before Redis is tried again after it failed.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        key_prefix: str = "kindling",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._memory = MonotonicWindows(clock)
        self._redis: AsyncMovingWindow | None = None
        self._clock = clock
        self._down_until = 0.0
        self._down = False
        if redis_url:
            url = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
            # ``limits`` only for Redis (importing it costs what ``kindling.web.rates`` says).
            from limits.aio.storage import RedisStorage
            from limits.aio.strategies import MovingWindowRateLimiter

            storage = RedisStorage(
                url,
                implementation="redispy",
                key_prefix=key_prefix,
                wrap_exceptions=True,
                socket_connect_timeout=REDIS_TIMEOUT,
                socket_timeout=REDIS_TIMEOUT,
            )
            self._redis = MovingWindowRateLimiter(storage)

    @property
    def shared(self) -> bool:
        """True while the counters are in Redis (configured and reachable)."""
        return self._redis is not None and not self._down

    def _remote(self) -> AsyncMovingWindow | None:
        if self._redis is None or (self._down and self._clock() < self._down_until):
            return None
        return self._redis

    def _failed(self, exc: BaseException) -> None:
        self._down_until = self._clock() + REDIS_RETRY
        if not self._down:
            self._down = True
            log.warning(
                "Redis is unreachable (%s): counting rate limits in this process "
                "until it answers again (retried every %.0f s)",
                type(exc).__name__,
                REDIS_RETRY,
            )

    def _answered(self) -> None:
        if self._down:
            self._down = False
            log.warning("Redis answers again: rate limits are counted in Redis")

    async def hit(self, item: Rate, *key: str) -> bool:
        """Count one request; False (and nothing counted) when ``item`` is used up."""
        remote = self._remote()
        if remote is not None:
            try:
                ok = await remote.hit(_shared(item), *key)
            except Exception as exc:  # never fail a request for the counters
                self._failed(exc)
            else:
                self._answered()
                return ok
        return self._memory.hit(item, *key)

    async def test(self, item: Rate, *key: str) -> bool:
        """True while ``item`` has room for one more request (nothing counted)."""
        remote = self._remote()
        if remote is not None:
            try:
                ok = await remote.test(_shared(item), *key)
            except Exception as exc:
                self._failed(exc)
            else:
                self._answered()
                return ok
        return self._memory.test(item, *key)

    async def retry_after(self, item: Rate, *key: str) -> int:
        """Whole seconds until ``item`` has room again (at least 1)."""
        remote = self._remote()
        if remote is not None:
            try:
                reset = (await remote.get_window_stats(_shared(item), *key)).reset_time
            except Exception as exc:
                self._failed(exc)
            else:
                # The library's shared windows are on the wall clock.
                return max(1, math.ceil(reset - time.time()))
        return max(1, math.ceil(self._memory.reset_in(item, *key)))


def _client_key(client_id: str) -> str:
    if len(client_id) <= MAX_KEY:
        return client_id
    return "sha256:" + hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()


def _address_key(ip: str | None) -> str:
    """The peer address; an IPv6 one by its /64, which one subscriber usually holds whole."""
    if ip is None:
        return "unknown"
    if ":" not in ip:
        return ip
    try:
        address = ipaddress.IPv6Address(ip)
    except ValueError:
        return ip
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def token_client_id(headers: Sequence[tuple[bytes, bytes]], body: bytes | None) -> str | None:
    """The client id a token request names: Basic credentials first, else the form's.

    Decoded as the token endpoint decodes them (RFC 6749 §2.3.1 and Appendix B); a
    malformed value names no client (the endpoint refuses it and its 401 still counts
    against the peer address). The first ``client_id`` in the body wins: a repeated one
    is refused by the endpoint as ``invalid_request``, which authenticates nobody.
    """
    authorization = _header(headers, b"authorization")
    if authorization is not None:
        try:
            basic = parse_basic(authorization, "kindling")
        except OAuthError:
            basic = None
        if basic is not None:
            return basic.client_id or None
    if not body:
        return None
    start = 0
    while True:
        found = body.find(b"client_id=", start)
        if found < 0:
            return None
        if found == 0 or body[found - 1 : found] == b"&":
            end = body.find(b"&", found)
            raw = body[found + 10 : end if end >= 0 else len(body)]
            try:
                value = unquote_plus(raw.decode("utf-8"), errors="strict")
            except UnicodeDecodeError:
                return None
            return value or None
        start = found + 1


def _jwt_shaped(authorization: str) -> bool:
    """``Bearer`` and three dot-separated parts: worth a signature check at all."""
    return authorization[:7].lower() == "bearer " and authorization.count(".") == 2


class BearerCheck(Protocol):
    """The Management API's bearer check with its cache (``BearerVerifier``)."""

    def cached(self, authorization: str | None) -> Principal | None:
        """The caller if remembered and known valid without a database read, else None."""

    def principal(self, authorization: str | None) -> Principal:
        """The caller (may read the database), or ``BearerError``."""


class _VerifiedTokens:
    """The application of each bearer token, by the Management API's verified-bearer cache.

    A token remembered under the keyring's current view costs a lookup on the event loop
    (``BearerCheck.cached``). Any other is checked in a worker thread (``anyio.to_thread``;
    see the module docstring), and requests that bring the same header meanwhile wait for
    that one check. A header that is not even shaped like a bearer JWT names no
    application without a thread. A check the database could not serve
    (``StorageUnavailable``) names none either: the request goes on to the API, which
    answers the fault.
    """

    def __init__(self, bearer: BearerCheck) -> None:
        self._bearer = bearer
        self._checking: dict[str, asyncio.Task[Principal | None]] = {}

    async def principal(self, authorization: str | None) -> Principal | None:
        """The verified token's caller, or None (no token, or one the API would refuse)."""
        if not authorization or not _jwt_shaped(authorization):
            return None
        try:
            known = self._bearer.cached(authorization)
        except StorageUnavailable:  # SQLite's change marker is a read of its own
            return None
        if known is not None:
            return known
        task = self._checking.get(authorization)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._check(authorization))
            self._checking[authorization] = task
            task.add_done_callback(lambda _: self._checking.pop(authorization, None))
        # Shielded: a client that goes away does not cancel the others' verification.
        return await asyncio.shield(task)

    async def _check(self, authorization: str) -> Principal | None:
        try:
            return await anyio.to_thread.run_sync(self._bearer.principal, authorization)
        except (BearerError, StorageUnavailable):
            return None


#: The audit action of a refusal, per client-authentication endpoint.
_REFUSED = {
    TOKEN_PATH: audit.TOKEN_REFUSED,
    INTROSPECTION_PATH: audit.INTROSPECTION_REFUSED,
    REVOCATION_PATH: audit.REVOCATION_REFUSED,
}


class RateLimitHook:
    """The ``PipelineHook`` that applies a ``Policy`` (see the module docstring)."""

    def __init__(
        self,
        policy: Policy,
        counters: Counters,
        bearer: BearerCheck,
        clock: Callable[[], float] = time.time,
        audit_writer: audit.AuditWriter | None = None,
    ) -> None:
        self.policy = policy
        self.counters = counters
        self._tokens = _VerifiedTokens(bearer)
        self._clock = clock
        self._audit = audit_writer
        self._pending: set[asyncio.Task[None]] = set()
        self._logged: dict[tuple[str, str], float] = {}

    async def before(self, request: RequestInfo) -> HookResponse | None:
        if request.method == "POST" and request.path in CLIENT_AUTH_PATHS:
            return await self._token(request)
        if request.entry_point in ("management", "kindling"):
            return await self._api(request)
        return None

    def after(self, request: RequestInfo, status: int, duration: float) -> None:
        if status == 401 and request.method == "POST" and request.path in CLIENT_AUTH_PATHS:
            task = asyncio.get_running_loop().create_task(self._failed_authentication(request))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _token(self, request: RequestInfo) -> HookResponse | None:
        policy = self.policy
        address = _address_key(request.client_ip)
        client = token_client_id(request.headers, request.body)
        client_key = None if client is None else _client_key(client)
        for item in policy.token_failures_ip:
            if not await self.counters.test(item, "token-failures-ip", address):
                return await self._refuse_token(request, client, item, "token-failures-ip", address)
        if client_key is not None:
            for item in policy.token_failures:
                if not await self.counters.test(item, "token-failures", client_key):
                    return await self._refuse_token(
                        request, client, item, "token-failures", client_key
                    )
        for item in policy.token_ip:
            if not await self.counters.hit(item, "token-ip", address):
                return await self._refuse_token(request, client, item, "token-ip", address)
        if client_key is not None:
            for item in policy.token:
                if not await self.counters.hit(item, "token", client_key):
                    return await self._refuse_token(request, client, item, "token", client_key)
        return None

    async def _failed_authentication(self, request: RequestInfo) -> None:
        address = _address_key(request.client_ip)
        for item in self.policy.token_failures_ip:
            await self.counters.hit(item, "token-failures-ip", address)
        client = token_client_id(request.headers, request.body)
        if client is not None:
            key = _client_key(client)
            for item in self.policy.token_failures:
                await self.counters.hit(item, "token-failures", key)

    async def _api(self, request: RequestInfo) -> HookResponse | None:
        authorization = _header(request.headers, b"authorization")
        principal = await self._tokens.principal(authorization)
        if principal is not None:
            if authorization is not None and request.scope is not None:
                # The route's bearer check takes it from here (web.bearer_cache).
                hand_over(request.scope, authorization, principal)
            bucket, key, limits = "api", _client_key(principal.client_id), self.policy.api
        else:
            bucket, key = "api-anonymous", _address_key(request.client_ip)
            limits = self.policy.api_anonymous
        for item in limits:
            if not await self.counters.hit(item, bucket, key):
                seconds = await self._refused(item, bucket, key)
                return HookResponse.json(
                    429,
                    {
                        "errors": [
                            {
                                "code": Code.TOO_MANY_REQUESTS,
                                "message": f"Too many requests; retry in {seconds} s",
                            }
                        ]
                    },
                    _retry_headers(seconds),
                )
        return None

    async def _refuse_token(
        self,
        request: RequestInfo,
        client: str | None,
        item: Rate,
        bucket: str,
        key: str,
    ) -> HookResponse:
        seconds = await self._refused(item, bucket, key)
        if self._audit is not None:
            self._audit.refusal(
                audit.token_refused(
                    int(self._clock() * 1000),
                    client,
                    (),
                    "too_many_requests",
                    request.client_ip,
                    request.request_id,
                    action=_REFUSED[request.path],
                    details={"limit": bucket},
                )
            )
        if bucket.startswith("token-failures"):
            description = "too many failed client authentications; retry later"
        else:
            description = "too many requests; retry later"
        headers = _retry_headers(seconds)
        headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
        return HookResponse.json(
            429, {"error": "too_many_requests", "error_description": description}, headers
        )

    async def _refused(self, item: Rate, bucket: str, key: str) -> int:
        """Seconds until ``item`` has room; logs the first refusal of each window."""
        seconds = await self.counters.retry_after(item, bucket, key)
        now = time.monotonic()
        if self._logged.get((bucket, key), 0.0) <= now:
            if len(self._logged) > 10_000:
                self._logged.clear()
            self._logged[(bucket, key)] = now + seconds
            log.warning("rate limit %s reached for %s (%s); refusing with 429", bucket, key, item)
        return seconds


def _retry_headers(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds), "RateLimit-Reset": str(seconds)}


def rate_limit_hook(ctx: Context, bearer: BearerCheck | None = None) -> RateLimitHook:
    """The hook for ``ctx``'s settings (``Policy.from_settings`` raises on a bad limit).

    ``bearer`` is the Management API's verified-bearer cache (``create_app`` passes the
    one its routes use); without it the hook makes one of its own, with the same rules.
    """
    settings = ctx.settings
    issuer = ctx.issuer()
    prefix = "kindling:" + hashlib.sha256(issuer.encode("utf-8")).hexdigest()[:16]
    if bearer is None:
        audience = management_audience(issuer)
        bearer = BearerVerifier(ctx, lambda: audience)
    return RateLimitHook(
        Policy.from_settings(settings),
        Counters(settings.redis_url, prefix),
        bearer,
        audit_writer=ctx.storage.audit,
    )
