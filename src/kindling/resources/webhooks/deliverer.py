"""The background webhook deliverer: never on the request path.

Each server worker process runs one ``Deliverer`` (started and stopped with the ASGI
lifespan by ``kindling.web.asgi``). Its dispatcher thread loops:

1. **fan out** new outbox events into deliveries (``service.fan_out``: one transaction
   that queues them and advances the shared cursor, so each event fans out once
   however many workers or instances share the database);
2. **claim** due deliveries under a lease (``service.claim_due``), never more than
   ``workers`` in flight in this process and ``per_webhook`` per webhook, so a receiver
   that takes ten seconds per request holds at most two sending threads and delays
   nobody else's deliveries;
3. hands each claimed delivery to a small pool of daemon threads that sign the payload
   (``ctx.keyring.signer()``), POST it (``delivery.send``) and record the attempt
   (``service.record_attempt``). No database transaction is open while a request is in
   flight.

The lease is twice the attempt timeout plus five seconds: longer than any attempt can
take, so a live worker never loses its lease mid-request, while a worker killed
mid-attempt (SIGKILL, power loss) leaves a lease that simply expires, after which any
worker sends the delivery again (at least once, same ``event_id`` and ``webhook-id``).
The dispatcher sleeps ``poll`` seconds between passes that found nothing to do, and
wakes as soon as a sending thread frees up. Every attempt is signed with the key that
signs now (``Keyring.signer_for`` follows rotations made by any instance); the issuer
is re-read every minute.
"""

from __future__ import annotations

import logging
import queue
import random
import ssl
import threading
import time

from kindling.platform.context import Context
from kindling.resources.webhooks import service
from kindling.resources.webhooks.delivery import WEBHOOK_TYP, RetryPolicy, send, webhook_claims
from kindling.resources.webhooks.model import Claimed

log = logging.getLogger("kindling.webhooks")

#: Sending threads per process.
WORKERS = 4
#: Attempts in flight per webhook per process.
PER_WEBHOOK = 2
#: Seconds between idle passes.
POLL = 0.5
#: Seconds a gap in the outbox ``seq`` is waited for before it is taken as permanent.
GAP_GRACE = 10.0
RELOAD_EVERY = 60.0


class Deliverer:
    """One process's webhook deliverer (see the module docstring)."""

    def __init__(
        self,
        ctx: Context,
        *,
        workers: int = WORKERS,
        per_webhook: int = PER_WEBHOOK,
        poll: float = POLL,
        gap_grace: float = GAP_GRACE,
        cursor: str = service.CURSOR,
        rng: random.Random | None = None,
    ) -> None:
        settings = ctx.settings
        self._ctx = ctx
        self._policy = RetryPolicy(settings.webhook_retry_base, settings.webhook_retry_window)
        self._timeout = settings.webhook_timeout
        self._lease = 2 * self._timeout + 5.0
        self._workers = workers
        self._per_webhook = per_webhook
        self._poll = poll
        self._gap_grace = gap_grace
        self._cursor = cursor
        self._rng = rng or random.SystemRandom()
        # The system's CA certificates are read on the first delivery, not at start-up:
        # ``ssl.create_default_context()`` costs ~24 ms of CPU here (bench/README.md,
        # "lean start-up").
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._gaps: dict[int, float] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._jobs: queue.SimpleQueue[Claimed | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._issuer: str | None = None
        self._loaded_at = 0.0

    # -- lifecycle

    def start(self) -> None:
        """Start the dispatcher and the sending threads (daemons: they never keep the
        process alive)."""
        if self._threads:
            return
        dispatcher = threading.Thread(target=self._run, name="kindling-webhooks", daemon=True)
        self._threads.append(dispatcher)
        for n in range(self._workers):
            sender = threading.Thread(
                target=self._send_loop, name=f"kindling-webhooks-{n}", daemon=True
            )
            self._threads.append(sender)
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop claiming and wait up to ``timeout`` seconds for the dispatcher. Attempts in
        flight are abandoned to their leases (another pass sends them again)."""
        self._stop.set()
        self._wake.set()
        for _ in range(self._workers):
            self._jobs.put(None)
        if self._threads:
            self._threads[0].join(timeout)

    # -- one pass

    def run_once(self) -> bool:
        """Fan out and dispatch once; True when there is more work right away."""
        self._refresh()
        fanned = service.fan_out(
            self._ctx.storage,
            self._ctx.clock,
            self._policy.window,
            self._gap_ok,
            cursor=self._cursor,
        )
        return self._dispatch() or fanned.events >= service.FANOUT_BATCH

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._issuer is None:
            self._ctx.keyring.reload()
        if self._issuer is None or now - self._loaded_at >= RELOAD_EVERY:
            self._issuer = self._ctx.issuer()
            self._loaded_at = now

    def _gap_ok(self, seq: int) -> bool:
        now = time.monotonic()
        if len(self._gaps) > 1000:
            self._gaps.clear()
        first = self._gaps.setdefault(seq, now)
        return now - first >= self._gap_grace

    def _dispatch(self) -> bool:
        with self._lock:
            room = self._workers - sum(self._in_flight.values())
            in_flight = dict(self._in_flight)
        if room <= 0 or self._stop.is_set():
            return False
        claimed = service.claim_due(
            self._ctx.storage,
            self._ctx.clock.now(),
            self._lease,
            room,
            in_flight,
            self._per_webhook,
        )
        for job in claimed:
            with self._lock:
                webhook = job.delivery.webhook_id
                self._in_flight[webhook] = self._in_flight.get(webhook, 0) + 1
            self._jobs.put(job)
        return len(claimed) >= room

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                busy = self.run_once()
                failures = 0
            except Exception:
                failures += 1
                log.exception("webhook deliverer pass failed")
                busy = False
            if busy:
                continue
            wait = self._poll if not failures else min(30.0, self._poll * 2.0**failures)
            self._wake.wait(wait)
            self._wake.clear()

    # -- sending

    def _send_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None or self._stop.is_set():
                return
            try:
                self.deliver(job)
            except Exception:
                log.exception("webhook delivery %s failed", job.delivery.id)
            finally:
                with self._lock:
                    webhook = job.delivery.webhook_id
                    left = self._in_flight.get(webhook, 0) - 1
                    if left > 0:
                        self._in_flight[webhook] = left
                    else:
                        self._in_flight.pop(webhook, None)
                self._wake.set()

    def _tls_context(self) -> ssl.SSLContext:
        """The one TLS context every delivery uses (the system's CAs), made on first use."""
        with self._lock:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            return self._tls

    def deliver(self, job: Claimed) -> str | None:
        """Sign, send and record one attempt of a claimed delivery; the new status."""
        clock = self._ctx.clock
        now = clock.now()
        issuer = self._issuer or self._ctx.issuer()
        signer = self._ctx.keyring.signer_for(WEBHOOK_TYP)
        token = signer.sign(webhook_claims(job.event, issuer, now))
        result = send(
            job.endpoint,
            token.encode("ascii"),
            {"webhook-id": job.delivery.id, "webhook-timestamp": str(int(now))},
            self._timeout,
            self._tls_context(),
        )
        status = service.record_attempt(
            self._ctx.storage, job, result, now, self._policy, self._rng
        )
        if result.ok:
            log.info("webhook %s delivered to %s", job.event.event_id, job.delivery.webhook_id)
        elif status == "failed":
            log.warning(
                "webhook %s to %s failed for good after %d attempts: %s",
                job.event.event_id,
                job.delivery.webhook_id,
                job.delivery.attempts + 1,
                result.error,
            )
        else:
            log.info(
                "webhook %s to %s: attempt %d failed (%s)",
                job.event.event_id,
                job.delivery.webhook_id,
                job.delivery.attempts + 1,
                result.error,
            )
        return status
