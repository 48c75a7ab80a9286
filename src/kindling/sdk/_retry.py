"""When to retry, and how long to wait first.

* **429** (Kinde's rate limits): the wait is what the answer asks for, ``RateLimit-Reset``
  (Kinde's header: seconds until the window resets) or ``Retry-After`` (RFC 9110 §10.2.3:
  seconds or an HTTP date), whichever is longer, plus a little random jitter so that many
  clients limited together do not all come back in the same instant. A wait longer than
  ``max_wait`` is not attempted: the error is raised at once, with its ``reset_at``.
  Only safe methods (RFC 9110 §9.2.1: GET, HEAD, OPTIONS) are retried unless the caller
  opts in with ``retry_unsafe``, since a refused POST may be sent again by hand.
* **Connection errors** (refused, reset, timed out) on safe methods: exponential backoff
  with jitter, ``connection_retries`` times. A TLS certificate failure is never retried.

The functions here are pure (time and randomness come in as arguments), so the client's
sync and async halves share them.
"""

from __future__ import annotations

import email.utils
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "SAFE_METHODS",
    "RetryPolicy",
    "connection_delay",
    "is_retryable_connection_error",
    "rate_limit_delay",
    "server_wait",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: A ``RateLimit-Reset`` above this is a Unix time rather than a number of seconds.
_EPOCH_THRESHOLD = 1_000_000_000


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries; the defaults suit an interactive script and a worker alike.

    ``rate_limit_retries``: 429 answers retried per call. ``max_wait``: the longest single
    wait in seconds (jitter included); a server asking for longer gets a ``RateLimited``
    at once. ``jitter``: up to this many seconds added at random to each wait.
    ``retry_unsafe``: retry POST, PUT, PATCH and DELETE too. ``connection_retries`` and
    ``backoff``: retries after connection errors, the first after ``backoff`` seconds and
    each next one after twice as long (also the wait of a 429 that names none).
    """

    rate_limit_retries: int = 3
    max_wait: float = 30.0
    jitter: float = 1.0
    retry_unsafe: bool = False
    connection_retries: int = 2
    backoff: float = 0.5

    def allows(self, method: str, retry_unsafe: bool | None = None) -> bool:
        """Whether a request with this method may be sent again."""
        unsafe_ok = self.retry_unsafe if retry_unsafe is None else retry_unsafe
        return method.upper() in SAFE_METHODS or unsafe_ok


def _seconds(value: str | None, now: float) -> float | None:
    if value is None:
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - now)
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if number > _EPOCH_THRESHOLD:
        return max(0.0, number - now)
    return max(0.0, number)


def server_wait(headers: Mapping[str, str], now: float) -> float | None:
    """The seconds a 429 asks the client to wait, or None when it names no wait."""
    waits = [
        wait
        for wait in (
            _seconds(headers.get("ratelimit-reset"), now),
            _seconds(headers.get("retry-after"), now),
        )
        if wait is not None
    ]
    return max(waits) if waits else None


def _jittered(wait: float, policy: RetryPolicy, rand: Callable[[], float]) -> float:
    room = max(0.0, min(policy.jitter, policy.max_wait - wait))
    return wait + rand() * room


def rate_limit_delay(
    hinted: float | None, attempt: int, policy: RetryPolicy, rand: Callable[[], float]
) -> float | None:
    """The wait before retry number ``attempt + 1`` of a 429, or None to give up."""
    if attempt >= policy.rate_limit_retries:
        return None
    wait = hinted if hinted is not None else policy.backoff * (2**attempt)
    if wait > policy.max_wait:
        return None
    return _jittered(wait, policy, rand)


def connection_delay(attempt: int, policy: RetryPolicy, rand: Callable[[], float]) -> float | None:
    """The wait before retry number ``attempt + 1`` after a connection error, or None."""
    if attempt >= policy.connection_retries:
        return None
    wait = min(policy.backoff * (2**attempt), policy.max_wait)
    return _jittered(wait, policy, rand)


def is_retryable_connection_error(exc: BaseException) -> bool:
    """False for failures that a retry cannot fix: a refused TLS certificate."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return False
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return True
