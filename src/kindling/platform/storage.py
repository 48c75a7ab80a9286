"""Storage: one unit of work over two real engines (SQLite, PostgreSQL).

A ``Storage`` hands out units of work. A unit of work binds every registered
repository to one session (one transaction) and collects the domain events that
services record; on commit it appends them to the outbox in the same transaction,
so an event exists exactly when its change does. The repositories come from the
resource registry (``kindling.resources``): this module names none of them.

``open_storage`` picks the engine from the database URL: ``postgresql://…`` or
``postgres://…`` selects PostgreSQL, ``sqlite:///path`` or nothing the SQLite
file ``kindling.db`` in the data dir.

A database fault (unreachable, a held write lock, an exhausted pool; see
``kindling.platform.engine``) raises ``StorageUnavailable`` from ``transaction`` and
``read`` after the transaction is rolled back, and from ``open_storage`` with nothing
left open; ``pending_migrations`` is the readiness check's view of the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar, cast

from kindling.platform.audit import AUDIT_REPO, AuditWriter, millis, write_event_entries
from kindling.platform.audit_sql import SqlAuditLog
from kindling.platform.engine import (
    Engine,
    EngineLimits,
    PostgresEngine,
    Session,
    SqliteEngine,
)
from kindling.platform.event_types import EventType
from kindling.platform.events import DomainEvent
from kindling.platform.ids import event_id
from kindling.platform.keys import KEYS_REPO
from kindling.platform.migrations import MIGRATIONS, migrate, require_current
from kindling.platform.outbox import OUTBOX_REPO, SqlOutbox
from kindling.platform.repository import RepositoryFactory, RepositoryKey
from kindling.platform.signing_sql import SqlKeyRepository

__all__ = ["Storage", "UnitOfWork", "open_engine", "open_storage"]

SQLITE_FILE = "kindling.db"
R = TypeVar("R")

#: The request id of the request being served, recorded with its events (set by the pipeline).
current_request_id: ContextVar[str | None] = ContextVar("kindling_request_id", default=None)


class ReadOnlyError(RuntimeError):
    """An event was recorded in a read-only unit of work."""


#: An in-transaction reaction to a domain event: runs inside the recording unit of work.
Reaction = Callable[["UnitOfWork", DomainEvent], None]


class UnitOfWork:
    """Every repository bound to one session (one transaction), plus its recorded events."""

    def __init__(
        self,
        session: Session,
        factories: Mapping[RepositoryKey[Any], RepositoryFactory],
        now: Callable[[], str],
        writable: bool,
        reactions: Mapping[str, Sequence[Reaction]] | None = None,
    ) -> None:
        self._session = session
        self._factories = factories
        self._now = now
        self._writable = writable
        self._reactions = reactions or {}
        self._repositories: dict[RepositoryKey[Any], Any] = {}
        self.events: list[DomainEvent] = []

    def __getitem__(self, key: RepositoryKey[R]) -> R:
        """The repository registered for ``key``, bound to this transaction."""
        found = self._repositories.get(key)
        if found is None:
            factory = self._factories.get(key)
            if factory is None:
                raise LookupError(f"no repository is registered for {key!r}")
            found = self._repositories[key] = factory(self._session)
        return cast(R, found)

    @property
    def dialect(self) -> str:
        return self._session.dialect

    def record(self, type_: EventType, data: Mapping[str, Any]) -> DomainEvent:
        """Record a domain event; it is written with the change when the transaction commits.

        Reactions registered for the type run at once, in this transaction: another
        resource keeps its own data consistent with the change (a role drops a deleted
        permission) without the recording resource knowing it exists.
        """
        if not self._writable:
            raise ReadOnlyError(f"{type_} recorded in a read-only transaction")
        event = DomainEvent(
            event_id=event_id(), type=type_, data=dict(data), occurred_on=self._now()
        )
        self.events.append(event)
        for react in self._reactions.get(type_, ()):
            react(self, event)
        return event

    def flush_events(self) -> None:
        """Append the recorded events to the outbox and their rows to the audit log
        (inside the transaction: a failing audit write fails the change, see
        ``platform.audit``)."""
        if self.events:
            request_id = current_request_id.get()
            self[OUTBOX_REPO].append(self.events, request_id)
            write_event_entries(self[AUDIT_REPO], self.events, request_id)
            self.events = []


class Storage:
    """Hands out units of work; a write one holds the write lock for its duration."""

    def __init__(
        self,
        engine: Engine,
        repositories: Mapping[RepositoryKey[Any], RepositoryFactory],
        now: Callable[[], str],
        reactions: Mapping[str, Sequence[Reaction]] | None = None,
    ) -> None:
        self.engine = engine
        self._reactions = dict(reactions or {})
        self._factories: dict[RepositoryKey[Any], RepositoryFactory] = {
            OUTBOX_REPO: SqlOutbox,
            AUDIT_REPO: SqlAuditLog,
            KEYS_REPO: SqlKeyRepository,
            **repositories,
        }
        self._now = now
        #: Audit rows written outside a change's transaction (tokens, refusals).
        self.audit = AuditWriter(self, lambda: millis(now()))

    @property
    def embedded(self) -> bool:
        """True when queries are in-process (SQLite) and cheap enough to run on the event loop."""
        return self.engine.embedded

    @property
    def description(self) -> str:
        if isinstance(self.engine, SqliteEngine):
            return f"SQLite {self.engine.path}"
        return "PostgreSQL"

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """A read-write transaction: committed on success, rolled back on any exception.

        The events recorded during the transaction are written to the outbox just
        before the commit, in the same transaction.
        """
        with self.engine.session(write=True) as session:
            uow = UnitOfWork(
                session, self._factories, self._now, writable=True, reactions=self._reactions
            )
            yield uow
            uow.flush_events()

    def read(self, one_statement: bool = False) -> AbstractContextManager[UnitOfWork]:
        """A read-only transaction (a consistent snapshot); it cannot record events.

        ``one_statement``: the unit of work runs exactly one statement, itself a snapshot,
        and no transaction is opened around it (``Engine.session``); a second raises
        ``RuntimeError``.
        """
        if one_statement:
            return _OneStatementRead(self)
        return self._read()

    @contextmanager
    def _read(self) -> Iterator[UnitOfWork]:
        with self.engine.session(write=False) as session:
            yield UnitOfWork(session, self._factories, self._now, writable=False)

    def _unit(self, session: Session) -> UnitOfWork:
        """A read-only unit of work over ``session``."""
        return UnitOfWork(session, self._factories, self._now, writable=False)

    def pending_migrations(self) -> list[int]:
        """The versions this code knows that the database has not applied (a read; raises
        ``StorageUnavailable`` when the database does not answer)."""
        with self.engine.session(write=False) as session:
            rows = session.all("SELECT version FROM schema_migrations")
        applied = {int(row["version"]) for row in rows}
        return [version for version, _, _ in MIGRATIONS if version not in applied]

    def change_marker(self) -> Hashable | None:
        """See ``Engine.change_marker``: equal markers mean nothing was committed in between."""
        return self.engine.change_marker()

    def close(self) -> None:
        self.audit.close()
        self.engine.close()


class _OneStatementRead:
    """``Storage.read(one_statement=True)``: a class rather than a generator context manager,
    as the engine's session is (the hot read of a listing page)."""

    __slots__ = ("_storage", "_session")

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __enter__(self) -> UnitOfWork:
        self._session = self._storage.engine.session(write=False, one_statement=True)
        return self._storage._unit(self._session.__enter__())

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> Any:
        return self._session.__exit__(kind, exc, tb)


def open_engine(
    database_url: str | None, data_dir: Path, limits: EngineLimits | None = None
) -> Engine:
    """The engine ``database_url`` names (the data dir's SQLite file when None), as it is:
    not migrated (``kindling migrate``, ``kindling db copy``)."""
    if database_url and database_url.startswith(("postgresql://", "postgres://")):
        return PostgresEngine(database_url, limits=limits)
    if database_url and database_url.startswith("sqlite:///"):
        return SqliteEngine(Path(database_url.removeprefix("sqlite:///")), limits)
    if database_url:
        raise ValueError("KINDLING_DATABASE_URL must start with postgresql:// or sqlite:///")
    return SqliteEngine(data_dir / SQLITE_FILE, limits)


def open_storage(
    database_url: str | None,
    data_dir: Path,
    migrated_on: str,
    now: Callable[[], str],
    repositories: Mapping[RepositoryKey[Any], RepositoryFactory],
    reactions: Mapping[str, Sequence[Reaction]] | None = None,
    limits: EngineLimits | None = None,
    migrate_schema: bool = True,
) -> Storage:
    """Open the configured engine and bring its schema up to date.

    ``migrated_on`` is recorded with each migration applied; ``now`` stamps events;
    ``limits`` bound every wait (``engine.current_limits()`` when None). Migrations run
    without statement or lock timeouts (``Engine.maintenance``). With ``migrate_schema``
    False (``--no-migrate``, ``KINDLING_MIGRATE=off``) nothing is applied: a schema that
    is not current raises ``SchemaNotCurrent`` instead. If the database fails
    (``StorageUnavailable``) the engine is closed again before the error propagates, so a
    caller that retries leaves no pool or connection behind.
    """
    engine = open_engine(database_url, data_dir, limits)
    try:
        if migrate_schema:
            with engine.maintenance():
                migrate(engine, migrated_on)
        else:
            require_current(engine)
    except BaseException:
        engine.close()
        raise
    return Storage(engine, repositories, now, reactions)
