"""One webhook request: the signed payload, the POST, and the retry schedule.

No storage here: the deliverer (``deliverer.py``) claims a delivery, calls ``send`` and
records the ``SendResult``.

**Payload.** Kinde's webhook request body is a JWT (``Content-Type: application/jwt``)
signed with the environment's signing key (RS256, ``kid`` in the header, verifiable
against ``/.well-known/jwks``). Its claims, as Kinde's webhook docs and the types of the
``@kinde/webhooks`` decoder show them: ``type`` (``user.created``), ``event_id`` (the
outbox event's id, the same on every attempt and re-send), ``source`` (``api`` or
``admin``), ``data`` (the event's data object), ``timestamp`` (an ISO 8601 string: when
this attempt was signed, so a receiver can refuse replays) and ``event_timestamp`` (when
the change happened). Kindling adds ``iss`` and ``iat`` for generic JWT libraries. The
header's ``typ`` is ``webhook+jwt`` (``WEBHOOK_TYP``): ``@kinde/webhooks``
(``decodeWebhook(token, domain)``, version 1.0.0) verifies the signature against
``<domain>/.well-known/jwks.json`` and checks no ``typ``, issuer or audience, so it
accepts it, while Kindling's bearer check accepts only ``JWT`` (RFC 8725 §3.11 explicit
typing): a webhook payload can never be replayed as an access token. The ``webhook-id``
header is the delivery's id, unique
per webhook and event and stable across attempts (Kinde's idempotency key);
``webhook-timestamp`` is the attempt's Unix time.

**The request.** Only to the registered URL, with ``http.client`` from the standard
library: it never follows a redirect (a 3xx is a failed attempt), and the whole attempt
(connecting, TLS, sending, the status line and headers, the body) has one deadline,
enforced by a timer that shuts the socket down, so a receiver that trickles bytes
cannot hold a worker past it. At most ``MAX_RESPONSE`` bytes of the answer are read;
the rest is cut off by closing the connection. Any 2xx is success, as Kinde treats a
200 (the body is never interpreted).

**Retries.** A failed attempt (refused, reset, timed out, TLS failure, non-2xx) is
retried after an exponential back-off with full jitter: attempt *n* waits a uniformly
random time in ``[0, min(cap, base * 2**(n-1))]`` (the "full jitter" of AWS's
"Exponential Backoff And Jitter"), so receivers coming back from an outage are not hit
by every queued delivery at once. Once the next attempt would fall after the
delivery's retry window, it is marked failed.
"""

from __future__ import annotations

import http.client
import random
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from kindling.resources.webhooks.model import StoredEvent

#: Bytes of an answer read at most; the rest is cut off.
MAX_RESPONSE = 65_536
#: Characters of the answer kept with the attempt, for the console and the CLI.
EXCERPT = 256
#: The longest wait between two attempts, whatever the back-off reaches.
MAX_DELAY = 12 * 3600.0
USER_AGENT = "Kindling-Webhooks/1"
#: The JOSE ``typ`` of webhook payloads (never ``JWT``, which is for access tokens).
WEBHOOK_TYP = "webhook+jwt"
JWT_MEDIA = "application/jwt"
#: Hosts an ``http://`` endpoint may name (a receiver on the developer's machine).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def kinde_time(ts: float) -> str:
    """A Unix time as Kinde's webhooks write it: ``2026-02-03T12:00:00.000Z``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_to_unix(text: str) -> float:
    """An ISO 8601 timestamp (as the outbox stores them) as a Unix time."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def webhook_claims(event: StoredEvent, issuer: str, now: float) -> dict[str, Any]:
    """The JWT claims of one attempt to deliver ``event`` (see the module docstring)."""
    return {
        "data": event.data,
        "event_id": event.event_id,
        "event_timestamp": kinde_time(iso_to_unix(event.occurred_on)),
        "source": event.source,
        "timestamp": kinde_time(now),
        "type": event.type,
        "iss": issuer,
        "iat": int(now),
    }


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with full jitter over a retry window (seconds)."""

    base: float
    window: float
    cap: float = MAX_DELAY

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt`` (1 for the first)."""
        ceiling = min(self.cap, self.window, self.base * 2.0 ** min(attempt - 1, 62))
        return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class SendResult:
    """What one attempt came to."""

    latency_ms: int
    status_code: int | None = None
    #: Why the attempt failed; None when the endpoint answered 2xx.
    error: str | None = None
    excerpt: str | None = None
    #: True when the answer was longer than ``MAX_RESPONSE`` (or stopped at the deadline).
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def _excerpt(data: bytes) -> str | None:
    if not data:
        return None
    text = data[: EXCERPT * 4].decode("utf-8", "replace")[:EXCERPT]
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _shutdown(conn: http.client.HTTPConnection, fired: threading.Event) -> None:
    """The deadline passed: unblock whatever the sending thread waits for."""
    fired.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _read_capped(
    conn: http.client.HTTPConnection,
    response: http.client.HTTPResponse,
    deadline: float,
    limit: int,
) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the body; True when there was more (or time ran out)."""
    body = bytearray()
    try:
        while len(body) < limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(body), True
            if conn.sock is not None:
                conn.sock.settimeout(remaining)
            chunk = response.read1(min(16_384, limit - len(body)))
            if not chunk:
                return bytes(body), False
            body += chunk
        if conn.sock is not None:
            conn.sock.settimeout(max(0.001, min(1.0, deadline - time.monotonic())))
        more = response.read1(1)
    except (OSError, http.client.HTTPException):
        return bytes(body), True
    return bytes(body), bool(more)


def _failure(exc: BaseException, timeout: float, timed_out: bool) -> str:
    if timed_out or isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS failed: {getattr(exc, 'reason', None) or exc}"[:300]
    if isinstance(exc, socket.gaierror):
        return "the host name could not be resolved"
    if isinstance(exc, http.client.HTTPException):
        return f"invalid HTTP response ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"connection failed: {exc.strerror or exc}"[:300]
    return f"failed: {type(exc).__name__}"


def send(
    endpoint: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    tls: ssl.SSLContext | None = None,
    max_response: int = MAX_RESPONSE,
) -> SendResult:
    """POST ``body`` to ``endpoint`` once (see the module docstring); never raises for
    anything the network or the receiver does."""
    started = time.monotonic()
    deadline = started + timeout
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=tls or ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    fired = threading.Event()
    timer = threading.Timer(timeout, _shutdown, (conn, fired))
    timer.daemon = True
    timer.start()

    def elapsed() -> int:
        return max(0, round((time.monotonic() - started) * 1000))

    try:
        conn.request(
            "POST",
            target,
            body=body,
            headers={
                "Content-Type": JWT_MEDIA,
                "User-Agent": USER_AGENT,
                "Connection": "close",
                **headers,
            },
        )
        if conn.sock is not None:
            conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
        response = conn.getresponse()
        if fired.is_set():
            # The deadline cut the status line or headers short: nothing was answered.
            raise TimeoutError
        status = response.status
        data, truncated = _read_capped(conn, response, deadline, max_response)
        latency = elapsed()
        excerpt = _excerpt(data)
        if 200 <= status < 300:
            return SendResult(latency, status, None, excerpt, truncated)
        if 300 <= status < 400:
            location = (response.getheader("location") or "")[:200]
            where = f" to {location}" if location else ""
            error = f"HTTP {status}: redirect{where} not followed (answer 2xx instead)"
            return SendResult(latency, status, error, excerpt, truncated)
        return SendResult(latency, status, f"HTTP {status}", excerpt, truncated)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return SendResult(elapsed(), None, _failure(exc, timeout, fired.is_set()))
    finally:
        timer.cancel()
        conn.close()
