"""The audit log: who did what to what, from where, when, and with what result.

Each row names an **actor** (an M2M application's client id, a console user, the CLI's
operating-system user, or ``system``), the **IP** and **request id** of the request, an
**action**, a **target** (type and id), the **result** (``success`` or ``failure`` with
its error code) and the **time**, in the shape WorkOS and Keycloak's admin events use
(design notes A10). It is written on three paths, with two different guarantees:

* **Changes** (Management API, console, CLI): the unit of work writes one row per
  recorded domain event (``UnitOfWork.flush_events`` calls ``write_event_entries``) in
  the transaction of the change, next to its outbox row. If the audit insert fails, the
  whole transaction fails (``AuditUnavailable``, 503): a change is never committed
  without its audit row (fail closed, A12 rows 48 and 51). The action is the event type
  (``user.created``) and ``event_id`` joins the row to the outbox, which holds the data.
* **Refused changes** (a 4xx after authentication: validation, not found, conflict) are
  written by the web layer in a small transaction of their own (the change rolled back
  with its own), with the error code: ``AuditWriter.record``.
* **Token issuance and refusal** (``POST /oauth2/token``, the hot path) go to
  ``AuditWriter.enqueue`` / ``refusal``: an append to a bounded in-memory queue that a
  background thread writes in batches (every ``FLUSH_INTERVAL`` or ``BATCH`` rows), and
  on shutdown (``close``, also at interpreter exit). Refusals are coalesced per second
  and (client id, IP, error) into one row with a ``count``, so a brute-force run cannot
  flood the database; a row is lost only if the process is killed (SIGKILL) within that
  window, and rows the full queue had to drop are counted in an ``audit.rows_dropped``
  row. docs/security.md ("Audit log") states the choice. The rate limiter's 429s and
  the introspection and revocation endpoints' failed client authentications are
  refusals too (``INTROSPECTION_REFUSED``, ``REVOCATION_REFUSED``). An issued token's
  row summarises its scopes rather than listing them (``token_issued`` says why), and
  the batches' commits do not make the token endpoint re-read its clients
  (``resources/applications/clients.py``).

The request context (actor, IP, the operation that ran) is ``current_audit``, set by the
web layer once it knows the caller (the bearer verified, the console session loaded);
the request id is ``storage.current_request_id``, set by the request pipeline. Worker
threads see both (the request's context is copied into them).

No row holds a secret, a password, an API key or a token: actions, ids, codes, IPs,
audiences, scope names, counts and digests, and token ids (``jti``) only. Values are
cut to the lengths the table's CHECKs allow (``v0021_audit``).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from kindling.platform.codes import Code
from kindling.platform.engine import StorageUnavailable
from kindling.platform.errors import KindlingError
from kindling.platform.events import DomainEvent
from kindling.platform.repository import RepositoryKey

if TYPE_CHECKING:
    from kindling.platform.storage import Storage

__all__ = [
    "AUDIT_REPO",
    "AuditEntry",
    "AuditFilter",
    "AuditRepository",
    "AuditUnavailable",
    "AuditWriter",
    "RequestAudit",
    "current_audit",
    "write_event_entries",
]

log = logging.getLogger("kindling.audit")

#: Actor types.
APPLICATION = "application"
CONSOLE_USER = "console_user"
CLI = "cli"
SYSTEM = "system"
ACTOR_TYPES = (APPLICATION, CONSOLE_USER, CLI, SYSTEM)
#: Results.
SUCCESS = "success"
FAILURE = "failure"
RESULTS = (SUCCESS, FAILURE)
#: Actions of the rows that are not domain events.
TOKEN_ISSUED = "token.issued"
TOKEN_REFUSED = "token.refused"
#: Refusals of the other client-authentication endpoints (RFC 7662, RFC 7009): a failed
#: client authentication (401) or the rate limiter's 429.
INTROSPECTION_REFUSED = "token.introspection_refused"
REVOCATION_REFUSED = "token.revocation_refused"
CONSOLE_SIGNED_IN = "console.signed_in"
CONSOLE_SIGN_IN_FAILED = "console.sign_in_failed"
CONSOLE_SIGNED_OUT = "console.signed_out"
ROWS_DROPPED = "audit.rows_dropped"
#: Stands for "many" where refusals were folded together (see ``AuditWriter.refusal``).
MANY = "*"

#: Column bounds (the CHECKs of ``v0021_audit``).
_LIMITS = {
    "actor_type": 32,
    "actor_id": 256,
    "ip": 64,
    "request_id": 128,
    "action": 128,
    "target_type": 64,
    "target_id": 256,
    "error_code": 128,
    "event_id": 64,
}
#: Keys that identify the object under an event's resource name, in order of preference.
_ID_KEYS = ("id", "code", "key_code_ref", "kid", "jti", "key")


class AuditUnavailable(KindlingError):
    """The audit row of a change could not be written: the change is rolled back (503)."""

    code = Code.AUDIT_LOG_UNAVAILABLE
    status_code = 503

    def __init__(self) -> None:
        super().__init__(
            "The audit log could not be written, so nothing was changed; try again",
            Code.AUDIT_LOG_UNAVAILABLE,
        )


def _clip(value: str | None, column: str) -> str | None:
    if value is None:
        return None
    text = str(value)
    limit = _LIMITS[column]
    return text if len(text) <= limit else text[:limit]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row. ``occurred_at`` is Unix milliseconds; ``seq`` is set once stored."""

    occurred_at: int
    actor_type: str
    actor_id: str | None
    action: str
    result: str = SUCCESS
    target_type: str | None = None
    target_id: str | None = None
    ip: str | None = None
    request_id: str | None = None
    error_code: str | None = None
    count: int = 1
    event_id: str | None = None
    #: Small JSON facts (audiences, scopes, HTTP status, operation): never a secret.
    details: Mapping[str, Any] = field(default_factory=dict)
    seq: int | None = None

    def bounded(self) -> AuditEntry:
        """The entry with every text cut to its column's length (see ``v0021_audit``)."""
        # One expression, not a generator over (value, limit) pairs: this runs for every
        # token issued, and the generator cost 4.5 k instructions per token
        # (bench/token_instructions.py under cachegrind).
        if (
            len(self.actor_type) <= 32
            and len(self.action) <= 128
            and (self.actor_id is None or len(self.actor_id) <= 256)
            and (self.ip is None or len(self.ip) <= 64)
            and (self.request_id is None or len(self.request_id) <= 128)
            and (self.target_type is None or len(self.target_type) <= 64)
            and (self.target_id is None or len(self.target_id) <= 256)
            and (self.error_code is None or len(self.error_code) <= 128)
            and (self.event_id is None or len(self.event_id) <= 64)
        ):
            return self  # the common case, and the token path's: no copy
        return replace(
            self,
            actor_type=_clip(self.actor_type, "actor_type") or SYSTEM,
            actor_id=_clip(self.actor_id, "actor_id"),
            ip=_clip(self.ip, "ip"),
            request_id=_clip(self.request_id, "request_id"),
            action=_clip(self.action, "action") or "",
            target_type=_clip(self.target_type, "target_type"),
            target_id=_clip(self.target_id, "target_id"),
            error_code=_clip(self.error_code, "error_code"),
            event_id=_clip(self.event_id, "event_id"),
        )


@dataclass(slots=True)
class RequestAudit:
    """Who is making the current request, from where, and what it runs.

    ``operation`` is the Management API operationId or the console page's handler;
    ``written`` counts the audit rows the request's transactions wrote, so the web layer
    can tell a change that recorded events from one that recorded none.
    """

    actor_type: str
    actor_id: str | None = None
    ip: str | None = None
    operation: str | None = None
    written: int = 0


#: The current request's actor; None outside a request (then the actor is ``system``,
#: unless the CLI set its own).
current_audit: ContextVar[RequestAudit | None] = ContextVar("kindling_audit", default=None)


def begin(
    actor_type: str, actor_id: str | None, ip: str | None, operation: str | None = None
) -> RequestAudit:
    """Make ``RequestAudit(...)`` the current context (for this request's task) and return it."""
    context = RequestAudit(actor_type, actor_id or None, ip, operation)
    current_audit.set(context)
    return context


def millis(iso: str) -> int:
    """Unix milliseconds of an ISO 8601 time (``clock.isoformat``'s)."""
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def _id_of(value: Mapping[str, Any]) -> str | None:
    for key in _ID_KEYS:
        found = value.get(key)
        if isinstance(found, str | int) and not isinstance(found, bool):
            return str(found)
    return None


def event_target(event: DomainEvent) -> tuple[str, str | None]:
    """What an event is about: its resource name and the id of the object under it.

    Event data holds the object under its resource name (``{"user": {"id": ...}}``,
    ``{"organization": {"code": ...}}``, see ``event_types``); an event whose resource
    has no such object (``property_value.updated``) names the first object that has an id.
    """
    resource = event.type.split(".", 1)[0]
    data = event.data
    own = data.get(resource)
    if isinstance(own, Mapping):
        return resource, _id_of(own)
    for key, value in data.items():
        if isinstance(value, Mapping):
            found = _id_of(value)
            if found is not None:
                return key, found
    return resource, None


def actor() -> tuple[str, str | None, str | None]:
    """(actor type, actor id, IP) of the current context (``system`` outside one)."""
    context = current_audit.get()
    if context is None:
        return SYSTEM, None, None
    return context.actor_type, context.actor_id, context.ip


def entries_for_events(events: Sequence[DomainEvent], request_id: str | None) -> list[AuditEntry]:
    """One successful audit row per event, with the current actor and request."""
    actor_type, actor_id, ip = actor()
    context = current_audit.get()
    details = {"operation": context.operation} if context and context.operation else {}
    entries = []
    for event in events:
        target_type, target_id = event_target(event)
        entries.append(
            AuditEntry(
                occurred_at=millis(event.occurred_on),
                actor_type=actor_type,
                actor_id=actor_id,
                action=event.type,
                target_type=target_type,
                target_id=target_id,
                ip=ip,
                request_id=request_id,
                event_id=event.event_id,
                details=details,
            ).bounded()
        )
    return entries


@dataclass(frozen=True)
class AuditFilter:
    """What a search narrows to; every field None means everything.

    ``action`` is an exact action, or a prefix ending in ``*`` (``user.*``); ``target_id``
    and ``target_type`` match exactly; ``since`` is inclusive and ``until`` exclusive
    (Unix milliseconds).
    """

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    result: str | None = None
    since: int | None = None
    until: int | None = None

    def key(self) -> str:
        """A canonical text of the filter, to bind a paging cursor to it."""
        parts = (
            self.actor,
            self.action,
            self.target_type,
            self.target_id,
            self.result,
            self.since,
            self.until,
        )
        return "|".join("" if p is None else str(p).replace("|", "||") for p in parts)


class AuditRepository(Protocol):
    """The ``audit`` table inside one transaction (``kindling.platform.audit_sql``)."""

    def append(self, entries: Sequence[AuditEntry]) -> None:
        """Insert the entries in order; a failing insert raises (and fails the transaction)."""

    def search(self, where: AuditFilter, before: int | None, limit: int) -> list[AuditEntry]:
        """Up to ``limit`` rows matching ``where``, newest first (``seq`` descending),
        only rows with ``seq`` below ``before`` when given."""

    def prune(self, before: int, limit: int) -> int:
        """Delete up to ``limit`` of the oldest rows with ``occurred_at`` below ``before``
        (Unix ms); return how many were deleted."""


AUDIT_REPO = RepositoryKey[AuditRepository]("audit")


def write_event_entries(
    repository: AuditRepository, events: Sequence[DomainEvent], request_id: str | None
) -> None:
    """Write the events' audit rows in the current transaction (the unit of work's hook).

    Any failure becomes ``AuditUnavailable``, which fails the transaction with it: it is
    deliberately not an ``IntegrityViolation``, which services map to 409. A fault of the
    database itself (``StorageUnavailable``: unreachable, timed out) stays what it is, the
    503 with ``Retry-After`` every other write answers then.
    """
    entries = entries_for_events(events, request_id)
    try:
        repository.append(entries)
    except StorageUnavailable:
        raise
    except Exception as exc:
        log.error("the audit rows of %d events could not be written: %r", len(entries), exc)
        raise AuditUnavailable() from exc
    context = current_audit.get()
    if context is not None:
        context.written += len(entries)


#: A ``token.issued`` row names the granted scopes only when the request narrowed them to
#: at most this many (see ``token_issued``).
LISTED_SCOPES = 20
#: Scope sets whose digest is remembered (a process sees a handful: one per grant).
_DIGESTS_KEPT = 1024
_digests: dict[tuple[str, ...], str] = {}


def scope_digest(scopes: Sequence[str]) -> str:
    """SHA-256 (hex) of the scope names, de-duplicated, sorted and joined by single spaces.

    The order a token lists its scopes in does not change it, so the digest of a token's
    ``scope`` claim (``scope_digest(claim.split())``) and of a grant rebuilt from the
    authorization history are the same exactly when the sets are.
    """
    key = tuple(scopes)
    found = _digests.get(key)
    if found is None:
        found = hashlib.sha256(" ".join(sorted(set(key))).encode("utf-8")).hexdigest()
        if len(_digests) >= _DIGESTS_KEPT:
            _digests.clear()
        _digests[key] = found
    return found


def token_issued(
    at: int,
    client_id: str,
    audiences: Iterable[str],
    scopes: Sequence[str],
    jti: str | None,
    ip: str | None,
    request_id: str | None,
    narrowed: bool = False,
) -> AuditEntry:
    """The row of an issued access token: client, audiences, ``jti`` and a scope summary.

    The summary is ``scope_count`` and ``scope_sha256`` (``scope_digest``) always, and the
    names (``scopes``) only when the request narrowed them (RFC 6749 §3.3 ``scope``) to at
    most ``LISTED_SCOPES``. Why not the names every time: a token asked for without
    ``scope`` is granted everything the application is authorized for at that moment,
    which the audit log already holds as the history of its authorization changes
    (``application.*`` and ``api.*`` events, and the outbox's data); repeating that list
    in every row made the Management API token's row 149 names long, the largest cost of
    auditing the hot path. The count answers "how much could this token do" at a glance;
    the digest proves which set it was: equal to the digest of the set rebuilt from the
    history, or of the token's own ``scope`` claim, and the same for every token of the
    same grant, so tokens can be grouped by grant. A narrowed request is the client's own
    choice, found nowhere else, so its (few) names are kept; a long one is summarised
    like a full grant.
    """
    details: dict[str, Any] = {
        "audiences": list(audiences),
        "scope_count": len(scopes),
        "scope_sha256": scope_digest(scopes),
    }
    if narrowed and len(scopes) <= LISTED_SCOPES:
        details["scopes"] = list(scopes)
    return AuditEntry(
        occurred_at=at,
        actor_type=APPLICATION,
        actor_id=client_id,
        action=TOKEN_ISSUED,
        target_type="token",
        target_id=jti,
        ip=ip,
        request_id=request_id,
        details=details,
    ).bounded()


def token_refused(
    at: int,
    client_id: str | None,
    audiences: Iterable[str],
    error: str,
    ip: str | None,
    request_id: str | None,
    action: str = TOKEN_REFUSED,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """The row of a refused token request: the client id it named (if any), the
    audiences asked for and the RFC 6749 §5.2 error code (``too_many_requests`` for the
    rate limiter's 429). ``action`` names the endpoint (``TOKEN_REFUSED``,
    ``INTROSPECTION_REFUSED``, ``REVOCATION_REFUSED``); ``details`` adds small facts
    (the limit that refused), never a secret."""
    facts: dict[str, Any] = {"audiences": list(audiences)[:10]}
    if details:
        facts.update(details)
    return AuditEntry(
        occurred_at=at,
        actor_type=APPLICATION,
        actor_id=client_id or None,
        action=action,
        result=FAILURE,
        target_type="token",
        ip=ip,
        request_id=request_id,
        error_code=error,
        details=facts,
    ).bounded()


class AuditWriter:
    """Writes audit rows that do not belong to a change's transaction.

    ``record`` writes one row now, in its own transaction (refused changes, console
    sign-ins). ``enqueue`` and ``refusal`` only append to memory; a background thread,
    started on first use, writes what is queued every ``interval`` seconds or once
    ``batch`` rows wait, in one transaction per batch. Refusals wait until their second
    is over, so the same (action, actor, IP, error) in one second is one row with a
    ``count``; past ``refusal_keys`` distinct ones in a second the actor is folded into
    ``*``, past twice that the IP too, so the rows per second stay bounded whatever a
    client sends. At most ``capacity`` rows wait; beyond that rows are dropped and counted
    (an ``audit.rows_dropped`` row). With ``retention_days`` set the thread also deletes
    older rows when it starts and every hour.
    """

    FLUSH_INTERVAL = 0.05
    BATCH = 500
    CAPACITY = 10_000
    REFUSAL_KEYS = 100
    PRUNE_INTERVAL = 3600.0
    PRUNE_CHUNK = 5000

    def __init__(
        self,
        storage: Storage,
        now: Callable[[], int],
        *,
        interval: float = FLUSH_INTERVAL,
        batch: int = BATCH,
        capacity: int = CAPACITY,
        refusal_keys: int = REFUSAL_KEYS,
    ) -> None:
        self._storage = storage
        self._now = now
        self._interval = interval
        self._batch = batch
        self._capacity = capacity
        self._refusal_keys = refusal_keys
        self.retention_days: int | None = None
        self._wake = threading.Condition(threading.Lock())
        self._queue: deque[AuditEntry] = deque()
        self._refusals: dict[tuple[Any, ...], AuditEntry] = {}
        self._keys_per_second: dict[int, int] = {}
        self._dropped = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._next_prune = 0.0

    def configure(self, retention_days: int | None) -> AuditWriter:
        """Keep rows for ``retention_days`` days (None or 0: forever); returns itself."""
        self.retention_days = retention_days or None
        return self

    # --- the request path ---------------------------------------------------------

    def record(self, entry: AuditEntry) -> None:
        """Write one row now, in its own transaction; ``AuditUnavailable`` if it fails."""
        try:
            with self._storage.transaction() as uow:
                uow[AUDIT_REPO].append([entry.bounded()])
        except Exception as exc:
            log.error("an audit row (%s) could not be written: %r", entry.action, exc)
            raise AuditUnavailable() from exc

    def enqueue(self, entry: AuditEntry) -> None:
        """Queue a row for the background writer (never blocks on the database)."""
        with self._wake:
            if len(self._queue) >= self._capacity:
                self._dropped += 1
                return
            self._queue.append(entry)
            # Wake an idle writer (first row) or a waiting one (a full batch).
            if len(self._queue) == 1 or len(self._queue) >= self._batch:
                self._wake.notify()
            self._ensure_thread()

    def refusal(self, entry: AuditEntry) -> None:
        """Queue a refusal, coalesced with the same one in the same second."""
        second = entry.occurred_at // 1000
        with self._wake:
            key = (second, entry.action, entry.actor_type, entry.actor_id, entry.ip,
                   entry.error_code)  # fmt: skip
            held = self._refusals.get(key)
            if held is None:
                distinct = self._keys_per_second.get(second, 0)
                if distinct >= 2 * self._refusal_keys:
                    entry = replace(entry, actor_id=MANY, ip=MANY, request_id=None)
                elif distinct >= self._refusal_keys:
                    entry = replace(entry, actor_id=MANY, request_id=None)
                key = (second, entry.action, entry.actor_type, entry.actor_id, entry.ip,
                       entry.error_code)  # fmt: skip
                held = self._refusals.get(key)
            if held is None:
                if len(self._refusals) >= self._capacity:
                    self._dropped += entry.count
                    return
                self._keys_per_second[second] = self._keys_per_second.get(second, 0) + 1
                self._refusals[key] = replace(entry, occurred_at=second * 1000)
                if len(self._refusals) == 1:
                    self._wake.notify()
            else:
                self._refusals[key] = replace(held, count=held.count + entry.count)
            self._ensure_thread()

    # --- the writer ---------------------------------------------------------------

    def _ensure_thread(self) -> None:
        """Start the writer thread (the lock is held)."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="kindling-audit", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def _take(self, everything: bool) -> list[AuditEntry]:
        """Queued rows (up to a batch) and the refusals whose second is over (lock held)."""
        taken = [self._queue.popleft() for _ in range(min(len(self._queue), self._batch))]
        current = int(time.time())
        due = [k for k in self._refusals if everything or k[0] < current]
        for key in due:
            taken.append(self._refusals.pop(key))
        for second in [s for s in self._keys_per_second if everything or s < current]:
            del self._keys_per_second[second]
        if self._dropped:
            taken.append(
                AuditEntry(
                    occurred_at=self._now(),
                    actor_type=SYSTEM,
                    actor_id=None,
                    action=ROWS_DROPPED,
                    result=FAILURE,
                    count=self._dropped,
                )
            )
            self._dropped = 0
        return taken

    def _write(self, entries: list[AuditEntry]) -> bool:
        if not entries:
            return True
        try:
            with self._storage.transaction() as uow:
                uow[AUDIT_REPO].append(entries)
        except Exception as exc:
            log.error("%d audit rows could not be written, retrying: %r", len(entries), exc)
            with self._wake:
                room = self._capacity - len(self._queue)
                self._queue.extendleft(reversed(entries[:room]))
                self._dropped += max(0, len(entries) - room)
            return False
        return True

    def _run(self) -> None:
        self._prune_if_due()
        while True:
            with self._wake:
                while not (self._closed or self._queue or self._refusals):
                    self._wake.wait(timeout=max(0.0, self._next_prune - time.monotonic()))
                    if time.monotonic() >= self._next_prune:
                        break
                if self._closed:
                    return
                deadline = time.monotonic() + self._interval
                while not self._closed and len(self._queue) < self._batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(timeout=left)
                if self._closed:
                    return
                taken = self._take(everything=False)
            if not self._write(taken):
                time.sleep(1.0)
            self._prune_if_due()

    def flush(self) -> None:
        """Write everything queued now, refusals of the current second included."""
        while True:
            with self._wake:
                taken = self._take(everything=True)
            if not taken or not self._write(taken):
                return

    def close(self) -> None:
        """Stop the thread and write what is left (shutdown; also run at interpreter exit)."""
        with self._wake:
            if self._closed:
                return
            self._closed = True
            self._wake.notify_all()
            thread = self._thread
        atexit.unregister(self.close)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10.0)
        with self._wake:
            taken = self._take(everything=True)
            while self._queue:
                taken.extend(self._take(everything=True))
        if taken:
            try:
                with self._storage.transaction() as uow:
                    uow[AUDIT_REPO].append(taken)
            except Exception as exc:
                log.error("%d audit rows were lost at shutdown: %r", len(taken), exc)

    # --- retention ----------------------------------------------------------------

    def prune(self, before: int) -> int:
        """Delete every row older than ``before`` (Unix ms), in chunks; return how many."""
        total = 0
        while True:
            with self._storage.transaction() as uow:
                deleted = uow[AUDIT_REPO].prune(before, self.PRUNE_CHUNK)
            total += deleted
            if deleted < self.PRUNE_CHUNK:
                return total

    def _prune_if_due(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self.PRUNE_INTERVAL
        days = self.retention_days
        if not days:
            return
        try:
            deleted = self.prune(self._now() - days * 86_400_000)
        except Exception as exc:
            log.error("old audit rows could not be pruned: %r", exc)
            return
        if deleted:
            log.info("pruned %d audit rows older than %d days", deleted, days)
