"""SQL engines: an embedded SQLite file (WAL) and PostgreSQL, behind one Session type.

Repositories are written once, in portable SQL with ``?`` placeholders; each
engine adapts placeholders, connection handling and error types. This module and
``migrations.py`` are the only places that import a database driver.

**Database faults (RELIABILITY-AND-USERS.md A12 cases 45-47).** Every wait on the
database is bounded (``EngineLimits``): connecting to PostgreSQL (libpq's
``connect_timeout``), waiting for a pooled connection (psycopg_pool's ``timeout``),
one statement (``statement_timeout``), one lock (``lock_timeout``) and SQLite's write
lock (``busy_timeout``). When a bound is hit, or the server is unreachable or drops the
connection, the driver's error (psycopg's ``OperationalError``, ``PoolTimeout`` among
them; sqlite3's ``OperationalError`` for a busy, locked, unreadable or full database)
becomes one platform exception, ``StorageUnavailable``, which the web layer answers
503 with ``Retry-After``. The session it interrupted is rolled back (each unit of work
is one transaction), so a request that fails this way has written nothing. Other
errors (a constraint, a bug in SQL) are not faults of the database and pass unchanged.
Each engine logs a fault once when it starts and once when the database answers
again (``kindling.storage``), not once per request.

**Change markers (issue 12).** Caches on the token path (the signing keyring, the
client store) ask ``change_marker()`` whether anything they hang on may have changed.
SQLite answers from ``PRAGMA data_version``. PostgreSQL answers from a push: triggers
(``schema/v0024_change_notify.py``) send ``NOTIFY kindling_changes`` in every transaction
that moves ``client_state`` or ``token_state``, PostgreSQL delivers it on commit, and
each process listens on one connection of its own in a daemon thread
(``_ChangeListener``), so several processes and instances on one database share every
change without polling. The marker is None ("cannot tell": read the database) while
that connection is down or a notification is waiting to be read, and moves on each
reconnect, since notifications sent meanwhile are lost. The listener needs a real
session: behind a pooler in transaction mode (PgBouncer's ``pool_mode = transaction``)
``LISTEN`` does not work, so point ``KINDLING_DATABASE_URL`` at PostgreSQL or at a
session-mode pool.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import select
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from kindling.config import Settings
from kindling.platform.codes import Code
from kindling.platform.errors import ConfigurationError, KindlingError

if TYPE_CHECKING:
    import psycopg
    import psycopg.errors
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.rows import dict_row, tuple_row
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

#: What a PostgreSQL URL without its driver installed is refused with (one line).
MISSING_DRIVER = (
    "the database URL names PostgreSQL, but its driver is not installed: "
    "pip install 'kindling[postgres]' (psycopg)"
)


def _load_driver() -> None:
    """Import psycopg and psycopg_pool into this module, on the first PostgreSQL engine.

    The driver is the ``postgres`` extra (``pip install 'kindling[postgres]'``): an SQLite
    server neither installs nor imports it (importing it costs ~0.2-0.4 s of start-up
    and ~10 MB). Raises ``ConfigurationError(MISSING_DRIVER)`` when it is not installed.
    """
    global psycopg, conninfo_to_dict, dict_row, tuple_row, ConnectionPool, PoolClosed, PoolTimeout
    if "PoolTimeout" in globals():
        return
    try:
        import psycopg
        import psycopg.errors
        from psycopg.conninfo import conninfo_to_dict
        from psycopg.rows import dict_row, tuple_row
        from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
    except ImportError:
        raise ConfigurationError(MISSING_DRIVER) from None


Row = Mapping[str, Any]
Params = Sequence[Any]


#: SQL name of the Unicode case fold registered on every SQLite connection.
SQLITE_FOLD = "kindling_fold"


def fold_case(text: str) -> str:
    """Unicode case-insensitive form of a text: NFC, then ``str.casefold``.

    SQLite's built-in ``LOWER()`` and ``LIKE`` fold only ASCII letters, so ``ÉMILE``
    would not match ``émile`` (PostgreSQL's ``lower()`` folds them). This is registered
    as the deterministic SQL function ``kindling_fold`` on every SQLite connection.
    It is a Python callback, so it costs more than the C ``LOWER()``. Measured
    in-process with ``SqlUserRepository.search`` over 10,000 users (best of 15): a
    term matching nothing (a full scan, up to two calls per row) went from about 4 ms
    to about 9.5 ms; a term filling a page of 50 from about 1.1 ms to about 1.8 ms.
    """
    return unicodedata.normalize("NFC", text).casefold()


def _sql_fold(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
    """``kindling_fold(x)``: ``fold_case`` for text; NULL and other values unchanged."""
    return fold_case(value) if isinstance(value, str) else value


class IntegrityViolation(Exception):
    """A unique or foreign-key constraint refused a write."""


# --- bounded waits and the one fault exception -------------------------------------------


@dataclass(frozen=True)
class EngineLimits:
    """How long any one wait on the database may last, in seconds, and the pool's size.

    Every bound is well under the 10 s a client library typically waits for an answer, so
    a request meets a fault as a prompt 503 rather than a hang (RELIABILITY-AND-USERS.md A12
    case 47). ``Settings`` carries them (``KINDLING_DB_*``); see ``limits_from``.
    """

    #: PostgreSQL: libpq's ``connect_timeout`` (whole seconds, at least 2, libpq's minimum).
    connect_timeout: float = 2.0
    #: PostgreSQL: the wait for a free pooled connection (psycopg_pool's ``timeout``).
    pool_timeout: float = 2.0
    #: PostgreSQL: ``statement_timeout``, the longest one statement may run (migrations
    #: are exempt: ``maintenance``).
    statement_timeout: float = 5.0
    #: PostgreSQL: ``lock_timeout``, the longest one statement waits for a row or table lock.
    lock_timeout: float = 2.0
    #: SQLite: ``busy_timeout``, the longest a write waits for the database's write lock.
    busy_timeout: float = 2.0
    #: PostgreSQL: connections per process (per worker).
    pool_size: int = 10


DEFAULT_LIMITS = EngineLimits()
_limits = DEFAULT_LIMITS


def use_limits(limits: EngineLimits) -> None:
    """Make ``limits`` the bounds of every engine opened from now on in this process.

    ``kindling serve`` and each worker call it with the configured settings before they
    open storage; anything else (the CLI, tests, embedding) gets ``DEFAULT_LIMITS``.
    """
    global _limits
    _limits = limits


def limits_from(settings: Settings) -> EngineLimits:
    """The bounds ``settings`` configure (``KINDLING_DB_*``, ``KINDLING_SQLITE_BUSY_TIMEOUT``)."""
    return EngineLimits(
        connect_timeout=settings.db_connect_timeout,
        pool_timeout=settings.db_pool_timeout,
        statement_timeout=settings.db_statement_timeout,
        lock_timeout=settings.db_lock_timeout,
        busy_timeout=settings.sqlite_busy_timeout,
        pool_size=settings.db_pool_size,
    )


def current_limits() -> EngineLimits:
    """The bounds engines opened now get (``use_limits``)."""
    return _limits


#: ``StorageUnavailable.reason``: the database cannot be reached (down, restarting, the
#: connection dropped, the file cannot be opened or read).
UNREACHABLE = "unreachable"
#: The database answers but not in time: a held write lock (SQLite), a lock wait past
#: ``lock_timeout``, every pooled connection in use past ``pool_timeout``.
BUSY = "busy"
#: A statement ran past ``statement_timeout``.
TIMEOUT = "timeout"

#: ``Retry-After`` (seconds) per reason: contention clears in moments; a database that
#: is down or restarting takes longer to come back.
RETRY_AFTER = {UNREACHABLE: 5, BUSY: 1, TIMEOUT: 2}


class StorageUnavailable(KindlingError):
    """The database could not do the work in bounded time; nothing was written.

    The one exception every engine raises for a fault of the database itself (see the
    module docstring). The web layer answers it 503 with ``Retry-After: retry_after``:
    Kinde's ``error_response`` with ``SERVICE_UNAVAILABLE`` on the Management API, and
    RFC 6749's ``temporarily_unavailable`` on the token endpoint.
    """

    code = Code.SERVICE_UNAVAILABLE
    status_code = 503

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, Code.SERVICE_UNAVAILABLE)
        self.reason = reason
        self.retry_after = RETRY_AFTER.get(reason, 1)


log = logging.getLogger("kindling.storage")
#: The least time between two log lines for the same kind of fault while it goes on
#: (a busy database alternates failures and successes under load).
RELOG_INTERVAL = 60.0


class _Health:
    """An engine's view of its database: logs a fault when it begins and when it ends.

    ``down`` is True from a failure to reach the database until the next success, which
    lets the PostgreSQL engine stop waiting the full pool timeout on every request of an
    outage (``DOWN_WAIT``).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self.fault: str | None = None
        self._logged: dict[str, float] = {}

    @property
    def down(self) -> bool:
        return self.fault == UNREACHABLE

    def failed(self, error: StorageUnavailable) -> StorageUnavailable:
        with self._lock:
            changed = self.fault != error.reason
            self.fault = error.reason
            now = time.monotonic()
            # An outage is logged each time it begins; contention at most once a minute.
            last = self._logged.get(error.reason, -math.inf)
            if changed and (error.reason == UNREACHABLE or now - last >= RELOG_INTERVAL):
                self._logged[error.reason] = now
                log.warning("%s is unavailable (%s): %s", self._name, error.reason, error.message)
        return error

    def answered(self) -> None:
        if self.fault is None:  # the hot path: no lock
            return
        with self._lock:
            if self.fault is not None:
                if self.fault == UNREACHABLE:
                    log.warning("%s answers again", self._name)
                self.fault = None


_healths: dict[str, _Health] = {}
_healths_lock = threading.Lock()


def _health(name: str) -> _Health:
    """The one ``_Health`` of a database in this process, shared by every engine opened on
    it, so a set-up retried until the database answers logs the outage once."""
    with _healths_lock:
        found = _healths.get(name)
        if found is None:
            found = _healths[name] = _Health(name)
        return found


class Session(Protocol):
    """One connection inside a unit of work."""

    dialect: str

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return the number of rows it changed."""

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """Run a statement once per parameter row."""

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        """Insert many rows at once (COPY on PostgreSQL); constraint errors raise
        IntegrityViolation and, as always, roll back the whole unit of work."""

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """Return the first row, or None."""

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        """Return every row."""

    def values(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Return every row as a tuple of its values, in the order selected: no mapping
        per row, for reads of many rows (``sqlite3.Row`` or psycopg's ``dict_row`` cost
        more than the values do; ``bench/README.md``, issue 13)."""


@dataclass(frozen=True)
class PoolUsage:
    """An engine's connections in this process: ``open`` (pooled or per thread),
    ``in_use`` (in a transaction now), ``waiting`` (sessions waiting for one) and ``max``
    (the pool's bound; 0 where there is none, SQLite's one connection per thread)."""

    open: int
    in_use: int
    waiting: int
    max: int


class Engine(Protocol):
    """A database: hands out sessions, each one transaction.

    A session that cannot be opened or finished because of the database (see the module
    docstring) raises ``StorageUnavailable`` after its transaction is rolled back.
    """

    dialect: str
    embedded: bool

    def session(self, write: bool, one_statement: bool = False) -> AbstractContextManager[Session]:
        """Open a transaction; ``write`` takes the write lock up front (SQLite).

        ``one_statement`` (reads only): the caller runs exactly one statement, which is a
        consistent snapshot by itself, so no transaction is opened around it (no
        ``BEGIN``/``COMMIT``: on PostgreSQL one round trip instead of three). A second
        statement in such a session raises ``RuntimeError``. Inside a transaction of the
        same thread (SQLite) the statement joins it, as any nested session does.
        """

    def maintenance(self) -> AbstractContextManager[None]:
        """Sessions opened on this thread inside it have no statement or lock timeout
        (schema migrations, which may rewrite a large table)."""

    def change_marker(self) -> Hashable | None:
        """A value that changes whenever committed data may have changed, or None if the
        engine cannot tell cheaply (then callers must not cache)."""

    def pool_usage(self) -> PoolUsage:
        """The connections of this process now (no I/O; the ``/metrics`` pool gauges)."""

    def close(self) -> None: ...


# SQLite primary result codes that are faults of the database, not of the statement.
_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_SQLITE_UNREACHABLE = {10, 13, 14}  # SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN


def _sqlite_fault(exc: sqlite3.Error, busy_timeout: float) -> StorageUnavailable | None:
    """The ``StorageUnavailable`` for a driver error that is a fault of the database."""
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    text = str(exc)
    if primary in _SQLITE_BUSY or (primary == 0 and "locked" in text):
        return StorageUnavailable(
            f"the database's write lock was not free within {busy_timeout:g} s", BUSY
        )
    if primary in _SQLITE_UNREACHABLE:
        return StorageUnavailable(f"the database file cannot be used: {text}", UNREACHABLE)
    return None


#: Rows per multi-row ``INSERT`` of ``bulk_insert`` on SQLite, at most (see there).
BULK_ROWS = 200


class _SqliteSession:
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, engine: SqliteEngine) -> None:
        self._conn = conn
        self._engine = engine

    def execute(self, sql: str, params: Params = ()) -> int:
        try:
            return self._conn.execute(sql, params).rowcount
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            self._engine.fault(exc)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            self._engine.fault(exc)

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        """Multi-row ``INSERT ... VALUES (...), (...)``, ``BULK_ROWS`` rows per statement at
        most and never more parameters than the connection allows
        (``SQLITE_LIMIT_VARIABLE_NUMBER``: 32,766 by default since SQLite 3.32, 999 before,
        whatever the build set). All inside the caller's transaction, as before: a
        constraint error raises ``IntegrityViolation`` and the unit of work rolls back.

        Measured against ``executemany`` (one statement per row) seeding 50,000 users with an
        identity each (valgrind, instructions in SQLite and the driver per user): 105.8 k
        with ``executemany``; 77.7-79.2 k with 50 to 1,000 rows per statement (200: 77.7 k);
        107.9 k with statements as large as the variable limit allows (250,000 variables in
        Debian's build of SQLite 3.40).
        """
        if not rows:
            return
        width = len(columns)
        limit = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        per = max(1, min(BULK_ROWS, limit // max(width, 1)))
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        one = "(" + ", ".join("?" * width) + ")"
        full = head + ", ".join([one] * per)
        flat = itertools.chain.from_iterable
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            sql = full if len(chunk) == per else head + ", ".join([one] * len(chunk))
            self.execute(sql, list(flat(chunk)))

    def one(self, sql: str, params: Params = ()) -> Row | None:
        try:
            row: Row | None = self._conn.execute(sql, params).fetchone()
        except sqlite3.OperationalError as exc:
            self._engine.fault(exc)
        return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return list(self._conn.execute(sql, params).fetchall())
        except sqlite3.OperationalError as exc:
            self._engine.fault(exc)

    def values(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self._conn.cursor()
            cursor.row_factory = None  # plain tuples, not the connection's sqlite3.Row
            rows: list[tuple[Any, ...]] = cursor.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            self._engine.fault(exc)
        return rows


class SqliteEngine:
    """SQLite in WAL mode, one connection per thread, writes under BEGIN IMMEDIATE.

    ``synchronous=NORMAL`` is durable across process crashes in WAL mode; a power
    loss may drop the last transactions but never corrupts the file. A write waits at
    most ``busy_timeout`` for the write lock (another process, or a thread of this one,
    holding it) and then raises ``StorageUnavailable``; reads never wait for it (WAL).

    A thread's connection is closed once the thread has ended: anyio retires a worker
    thread idle for 10 s and starts a fresh one on the next burst, so under a steady load
    threads come and go every few seconds, and each connection left open kept about
    0.2 MiB (the parsed schema, cached statements) plus its page cache for good: the
    soak of issue 10 grew by ~25 KiB/s. The next connection opened closes those of
    ended threads, so at most one connection per live thread is open: the event loop's,
    anyio's worker threads (its default limit, 40) and the background threads (audit
    writer, webhook deliverer). Each holds at most SQLite's default page cache (2 MiB,
    ``cache_size=-2000``); a reader's is emptied whenever another connection commits.
    """

    dialect = "sqlite"
    embedded = True

    def __init__(self, path: Path, limits: EngineLimits | None = None) -> None:
        self.path = path
        self.limits = limits or current_limits()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Sealed keys and secret hashes: a new file is 0600, and SQLite gives the -wal and
        # -shm files the database file's mode. (An existing file, or one that cannot be
        # made, is left to sqlite3, which reports why it cannot be opened.)
        with suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._local = threading.local()
        #: Every open connection and the thread it belongs to.
        self._all: dict[sqlite3.Connection, threading.Thread] = {}
        self._lock = threading.Lock()
        self._local_writes = 0
        self._serials = itertools.count(1)
        self._health = _health(f"SQLite {path}")
        with self.session(write=True):
            pass

    def fault(self, exc: sqlite3.OperationalError) -> NoReturn:
        """Raise ``StorageUnavailable`` (recorded) for a fault of the database, else ``exc``.

        Called inside the ``except`` clause that caught ``exc``.
        """
        found = _sqlite_fault(exc, self.limits.busy_timeout)
        if found is None:
            raise exc
        raise self._health.failed(found) from exc

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            busy = self.limits.busy_timeout
            try:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=busy
                )
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.OperationalError as exc:
                if conn is not None:
                    conn.close()
                self.fault(exc)
            conn.create_function(SQLITE_FOLD, 1, _sql_fold, deterministic=True)
            self._local.conn = conn
            self._local.serial = next(self._serials)
            with self._lock:
                self._close_ended()
                self._all[conn] = threading.current_thread()
        return conn

    def _close_ended(self) -> None:
        """Close the connections of threads that have ended (``self._lock`` held).

        Nothing else can use them: a connection is only ever reached through its
        thread's ``threading.local``. One left in a transaction is rolled back."""
        for conn, owner in list(self._all.items()):
            if not owner.is_alive():
                del self._all[conn]
                with suppress(sqlite3.Error):
                    conn.close()

    def session(self, write: bool, one_statement: bool = False) -> AbstractContextManager[Session]:
        if one_statement and not write:
            conn = self._connection()
            if not conn.in_transaction:
                # One statement in autocommit mode is its own read transaction (a snapshot).
                return _Statement(_SqliteSession(conn, self), self._health)
        return self._transaction(write)

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Session]:
        conn = self._connection()
        if conn.in_transaction:
            # Nested use on the same thread joins the outer transaction.
            yield _SqliteSession(conn, self)
            return
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            self.fault(exc)
        try:
            yield _SqliteSession(conn, self)
            conn.execute("COMMIT")
        except BaseException as exc:
            # Whatever failed (the work, or the COMMIT itself), nothing of it stays.
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                self.fault(exc)
            raise
        else:
            self._health.answered()
        finally:
            if write:
                self._local_writes += 1

    def maintenance(self) -> AbstractContextManager[None]:
        return nullcontext()

    def change_marker(self) -> Hashable | None:
        """``PRAGMA data_version`` of this thread's connection (it changes when any *other*
        connection, in any process, commits) plus this process's own write count."""
        conn = self._connection()
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.OperationalError as exc:
            self.fault(exc)
        return (self._local.serial, version, self._local_writes)

    def pool_usage(self) -> PoolUsage:
        with self._lock:
            conns = list(self._all)
        busy = sum(1 for conn in conns if conn.in_transaction)
        return PoolUsage(open=len(conns), in_use=busy, waiting=0, max=0)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _PostgresSession:
    dialect = "postgres"

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        try:
            cur = self._conn.execute(_pg_sql(sql), params)
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc
        return cur.rowcount

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            with self._conn.cursor() as cur:
                cur.executemany(_pg_sql(sql), rows)
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        if not rows:
            return
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        try:
            with self._conn.cursor() as cur, cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc

    def one(self, sql: str, params: Params = ()) -> Row | None:
        return self._conn.execute(_pg_sql(sql), params).fetchone()

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return list(self._conn.execute(_pg_sql(sql), params).fetchall())

    def values(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        cursor = self._conn.cursor(row_factory=tuple_row)
        return cursor.execute(_pg_sql(sql), params).fetchall()


class _OneStatement:
    """A session for exactly one statement (``Engine.session(one_statement=True)``): it
    runs outside a transaction, so a second statement would see another snapshot and is
    refused instead."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._used = False
        self.dialect = session.dialect

    def _once(self) -> Session:
        if self._used:
            raise RuntimeError("a one-statement session ran a second statement")
        self._used = True
        return self._session

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._once().execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._once().executemany(sql, rows)

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        self._once().bulk_insert(table, columns, rows)

    def one(self, sql: str, params: Params = ()) -> Row | None:
        return self._once().one(sql, params)

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._once().all(sql, params)

    def values(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self._once().values(sql, params)


class _Statement:
    """``SqliteEngine.session(one_statement=True)`` outside a transaction: nothing to begin
    or commit, so a class rather than a generator context manager (the listing's read;
    entering and leaving a generator costs ~10 k instructions, its ``StopIteration``
    included)."""

    __slots__ = ("_session", "_health")

    def __init__(self, session: Session, health: _Health) -> None:
        self._session = _OneStatement(session)
        self._health = health

    def __enter__(self) -> Session:
        return self._session

    def __exit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> None:
        if kind is None:
            self._health.answered()


class _PostgresStatement:
    """``PostgresEngine.session(one_statement=True)``: a pooled connection (autocommit),
    one statement, no transaction; faults as in ``PostgresEngine._transaction``."""

    __slots__ = ("_engine", "_conn")

    def __init__(self, engine: PostgresEngine) -> None:
        self._engine = engine

    def __enter__(self) -> Session:
        self._conn = self._engine._checkout()
        return _OneStatement(_PostgresSession(self._conn))

    def __exit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> None:
        engine, conn = self._engine, self._conn
        try:
            if kind is None:
                engine._health.answered()
            elif isinstance(exc, psycopg.OperationalError):
                raise engine._fault(exc, broken=conn.broken or conn.closed) from exc
        finally:
            with engine._count:
                engine._checked_out -= 1
            engine._pool.putconn(conn)


#: While the database is known to be unreachable, a session waits this long (not the
#: whole ``pool_timeout``) for the pool to reconnect, so an outage answers at once.
DOWN_WAIT = 0.25
#: How long psycopg_pool keeps retrying one failed connection attempt (with its
#: exponential back-off from 1 s) before it gives up; the next session asks again at once.
#: Short, so the pool tries again within seconds of the server coming back.
RECONNECT_TIMEOUT = 5.0


def _pg_target(url: str) -> str:
    """``PostgreSQL host:port/dbname`` of ``url`` for log lines (no user or password)."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.Error:
        return "PostgreSQL"
    host = given.get("host") or given.get("hostaddr") or "localhost"
    return f"PostgreSQL {host}:{given.get('port') or 5432}/{given.get('dbname') or ''}"


def _words(exc: Exception) -> str:
    """A driver message on one line (libpq's span several)."""
    return " ".join(str(exc).split())


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def pg_connection_kwargs(url: str, limits: EngineLimits) -> dict[str, Any]:
    """libpq parameters that bound every wait, merged with what ``url`` sets itself.

    A ``connect_timeout`` in the URL, or a ``statement_timeout``/``lock_timeout`` among
    its ``options`` (or ``PGOPTIONS``), is kept; the URL's other ``options`` (a
    ``search_path``, say) are kept beside ours.
    """
    given = conninfo_to_dict(url)
    kwargs: dict[str, Any] = {"row_factory": dict_row}
    if "connect_timeout" not in given:
        kwargs["connect_timeout"] = max(2, math.ceil(limits.connect_timeout))
    options = str(given.get("options") or os.environ.get("PGOPTIONS") or "")
    extra = []
    if "statement_timeout" not in options:
        extra.append(f"-c statement_timeout={_ms(limits.statement_timeout)}")
    if "lock_timeout" not in options:
        extra.append(f"-c lock_timeout={_ms(limits.lock_timeout)}")
    if extra:
        kwargs["options"] = " ".join([options, *extra]).strip()
    return kwargs


def _dead(conn: psycopg.Connection[Any]) -> bool:
    """True for a pooled connection the server has closed (a restart, an idle timeout).

    An idle connection has nothing to read; if its socket is readable, the server sent
    its goodbye (``57P01 terminating connection``) or closed it. One ``select`` call
    instead of a round trip, so a restart does not fail each pooled connection once.
    """
    if conn.closed or conn.broken:
        return True
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        readable = [True]
    if readable:
        conn.close()
        return True
    return False


# --- change notifications (PostgreSQL LISTEN/NOTIFY) ---------------------------------------

#: The channel the schema's triggers announce token-path changes on
#: (``schema/v0024_change_notify.py``). The payload is ``<what>:<schema>``: ``clients``
#: when ``client_state`` moved, ``keys`` when ``token_state`` did (signing keys, revoked
#: tokens), and the schema of the table, so instances in other schemas of the same
#: database ignore it.
CHANGES_CHANNEL = "kindling_changes"
#: The transaction-local setting those triggers set: the committing process then moves its
#: own marker at once, without waiting for its notification to come back.
CHANGED_SETTING = "kindling.changed"
#: Seconds before the listener tries again after its connection failed: the first wait,
#: doubled on each further failure, up to the second.
LISTEN_RETRY = (0.1, 5.0)
#: TCP keepalive of the listening connection (libpq parameters; a URL's own are kept), so a
#: silently dropped connection is noticed in about half a minute even with no traffic.
LISTEN_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

#: Marker values, unique in the process: a marker never returns to a value once seen.
_markers = itertools.count(1)
listen_log = logging.getLogger("kindling.storage.listen")


class _ChangeListener:
    """One process's ``LISTEN kindling_changes`` on a connection of its own, in a thread.

    ``marker()`` is what ``PostgresEngine.change_marker`` returns: a process-local number
    that moves when a notification of this schema arrives, when this process commits a
    token-path change itself (``moved()``), and each time the listener (re)connects, since
    notifications sent while it was not listening are lost. It is None, "cannot tell",
    while there is no listening connection and while a notification has arrived but is
    not read yet: a caller then reads through instead of trusting its cache. The check is
    one uncontended lock and one ``poll`` of the socket, no database round trip.
    """

    def __init__(self, url: str, kwargs: Mapping[str, Any]) -> None:
        self.pid = os.getpid()
        self._url = url
        given = conninfo_to_dict(url)
        self._kwargs = {
            **kwargs,
            **{k: v for k, v in LISTEN_KEEPALIVES.items() if k not in given},
            "autocommit": True,
        }
        if "application_name" not in given:
            # Names the connection in pg_stat_activity (one per process, so with its pid).
            self._kwargs["application_name"] = f"kindling listener {self.pid}"
        self._target = _pg_target(url)
        self._lock = threading.Lock()
        self._marker = next(_markers)
        #: Polls the listening socket; None while not listening (guarded by ``_lock``).
        self._pending: select.poll | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._lost = False
        self._thread = threading.Thread(target=self._run, name="kindling-listener", daemon=True)
        self._thread.start()

    def marker(self) -> int | None:
        with self._lock:
            pending = self._pending
            if pending is None or pending.poll(0):
                return None
            return self._marker

    def moved(self) -> None:
        """This process committed a change: callers must not take their cache as fresh."""
        with self._lock:
            self._marker = next(_markers)

    def close(self, timeout: float = 1.0) -> None:
        self._stop.set()
        with suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # --- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        delay = LISTEN_RETRY[0]
        try:
            while not self._stop.is_set():
                try:
                    conn = psycopg.connect(self._url, **self._kwargs)
                except psycopg.Error as exc:
                    self._failed(exc)
                else:
                    try:
                        self._listen(conn)
                        delay = LISTEN_RETRY[0]
                    except (psycopg.Error, OSError) as exc:
                        self._failed(exc)
                    finally:
                        with self._lock:
                            self._pending = None
                        conn.close()
                if self._stop.is_set() or self._sleep(delay):
                    return
                delay = min(delay * 2, LISTEN_RETRY[1])
        finally:
            for fd in (self._wake_r, self._wake_w):
                with suppress(OSError):
                    os.close(fd)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        """Listen until the connection fails (raises) or the listener is closed (returns)."""
        row = conn.execute("SELECT current_schema() AS s").fetchone()
        schema = None if row is None else row["s"]
        conn.execute(f"LISTEN {CHANGES_CHANNEL}")
        socket = conn.fileno()
        pending = select.poll()
        pending.register(socket, select.POLLIN)
        waiter = select.poll()
        waiter.register(socket, select.POLLIN)
        waiter.register(self._wake_r, select.POLLIN)
        with self._lock:
            # Listening from here on; whatever was committed before is not known to have
            # been seen, so every cache re-reads once.
            self._marker = next(_markers)
            self._pending = pending
        if self._lost:
            self._lost = False
            listen_log.warning("%s: listening for changes again", self._target)
        while True:
            ready = {fd for fd, _ in waiter.poll()}
            if self._wake_r in ready:
                return
            with self._lock:
                try:
                    notes = list(conn.notifies(timeout=0))
                except BaseException:
                    self._pending = None  # before the socket is closed and reused
                    raise
                if any(_ours(note.payload, schema) for note in notes):
                    self._marker = next(_markers)

    def _failed(self, exc: Exception) -> None:
        if not self._lost and not self._stop.is_set():
            self._lost = True
            listen_log.warning(
                "%s: not listening for changes (%s); the token path reads the database "
                "on every request until it is again",
                self._target,
                _words(exc),
            )

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; True when the listener was closed meanwhile."""
        waiter = select.poll()
        waiter.register(self._wake_r, select.POLLIN)
        return bool(waiter.poll(seconds * 1000)) or self._stop.is_set()


def _announced(conn: psycopg.Connection[Any]) -> bool:
    """Whether the open transaction changed token-path state (its triggers set
    ``CHANGED_SETTING``; one round trip, on write transactions only)."""
    row = conn.execute("SELECT current_setting(%s, true) AS changed", (CHANGED_SETTING,)).fetchone()
    return row is not None and row["changed"] == "on"


def _ours(payload: str, schema: str | None) -> bool:
    """Whether a notification concerns the listener's schema (an unknown shape does)."""
    what, sep, where = payload.partition(":")
    return not sep or schema is None or where == schema


class PostgresEngine:
    """PostgreSQL through a psycopg 3 connection pool; each session is one transaction.

    Opening fails with ``StorageUnavailable`` when no connection can be made within
    ``connect_timeout`` + 1 s (the pool is closed again, nothing is left running). Once
    open, the pool reconnects by itself after an outage: a session during one raises
    ``StorageUnavailable`` within ``pool_timeout`` (``DOWN_WAIT`` once the outage is
    known), and the first session after the server is back succeeds.
    """

    dialect = "postgres"
    embedded = False

    def __init__(
        self, url: str, max_size: int | None = None, limits: EngineLimits | None = None
    ) -> None:
        _load_driver()
        self.url = url
        self.limits = limits or current_limits()
        self._health = _health(_pg_target(url))
        self._local = threading.local()
        self._count = threading.Lock()
        self._checked_out = 0
        # The pool's own log says "error connecting" on every attempt of an outage; this
        # engine logs the outage once (``_Health``).
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        kwargs = pg_connection_kwargs(url, self.limits)
        self._kwargs = kwargs
        self._listener: _ChangeListener | None = None
        self._listener_lock = threading.Lock()
        self._closed = False
        try:
            # One direct attempt first: a refused or failing connection is reported at
            # once, with the server's own words, where the pool would wait its timeout.
            psycopg.connect(url, **kwargs).close()
        except psycopg.OperationalError as exc:
            raise self._health.failed(
                StorageUnavailable(f"PostgreSQL cannot be reached: {_words(exc)}", UNREACHABLE)
            ) from exc
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size or self.limits.pool_size,
            # Autocommit: every session but a one-statement read opens ``transaction()``,
            # which sends BEGIN and COMMIT itself, as it does without autocommit.
            kwargs={**kwargs, "autocommit": True},
            open=False,
            timeout=self.limits.pool_timeout,
            reconnect_timeout=RECONNECT_TIMEOUT,
            name="kindling",
        )
        try:
            self._pool.open(wait=True, timeout=max(2, math.ceil(self.limits.connect_timeout)) + 1)
        except psycopg.OperationalError as exc:
            self._pool.close()
            raise self._health.failed(
                StorageUnavailable(f"PostgreSQL cannot be reached: {_words(exc)}", UNREACHABLE)
            ) from exc

    def _fault(self, exc: psycopg.OperationalError, broken: bool) -> StorageUnavailable:
        if isinstance(exc, PoolTimeout):
            if self._checked_out == 0 or self._health.down:
                found = StorageUnavailable("PostgreSQL cannot be reached", UNREACHABLE)
            else:
                found = StorageUnavailable(
                    f"no database connection became free within {self.limits.pool_timeout:g} s",
                    BUSY,
                )
        elif isinstance(exc, psycopg.errors.QueryCanceled):
            found = StorageUnavailable(
                f"a statement ran longer than {self.limits.statement_timeout:g} s", TIMEOUT
            )
        elif isinstance(exc, psycopg.errors.LockNotAvailable):
            found = StorageUnavailable(
                f"a lock was not free within {self.limits.lock_timeout:g} s", BUSY
            )
        elif broken or isinstance(
            exc, psycopg.errors.AdminShutdown | psycopg.errors.CannotConnectNow | PoolClosed
        ):
            found = StorageUnavailable(
                f"the connection to PostgreSQL was lost: {_words(exc)}", UNREACHABLE
            )
        else:
            found = StorageUnavailable(f"PostgreSQL refused the work: {_words(exc)}", BUSY)
        return self._health.failed(found)

    def _checkout(self) -> psycopg.Connection[dict[str, Any]]:
        """A live pooled connection within the bounded wait, else ``StorageUnavailable``."""
        wait = DOWN_WAIT if self._health.down else self.limits.pool_timeout
        deadline = time.monotonic() + min(wait, self.limits.pool_timeout)
        while True:
            try:
                conn = self._pool.getconn(timeout=max(deadline - time.monotonic(), 0.001))
            except psycopg.OperationalError as exc:
                raise self._fault(exc, broken=False) from exc
            if not _dead(conn):
                with self._count:
                    self._checked_out += 1
                return conn
            self._pool.putconn(conn)  # closed: the pool discards it and makes a new one

    def session(self, write: bool, one_statement: bool = False) -> AbstractContextManager[Session]:
        if one_statement and not write and not getattr(self._local, "maintenance", False):
            # The pool's connections are in autocommit mode: outside ``transaction()`` the
            # one statement is its own transaction, one round trip.
            return _PostgresStatement(self)
        return self._transaction(write)

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Session]:
        conn = self._checkout()
        changed = False
        try:
            with conn.transaction():
                if getattr(self._local, "maintenance", False):
                    conn.execute("SET LOCAL statement_timeout = 0")
                    conn.execute("SET LOCAL lock_timeout = 0")
                yield _PostgresSession(conn)
                changed = write and _announced(conn)
        except psycopg.OperationalError as exc:
            raise self._fault(exc, broken=conn.broken or conn.closed) from exc
        else:
            self._health.answered()
            if changed and self._listener is not None:
                # Committed: this process's next request must not take its cache as
                # fresh, though its own notification may not be back yet.
                self._listener.moved()
        finally:
            with self._count:
                self._checked_out -= 1
            self._pool.putconn(conn)

    @contextmanager
    def maintenance(self) -> Iterator[None]:
        previous = getattr(self._local, "maintenance", False)
        self._local.maintenance = True
        try:
            yield
        finally:
            self._local.maintenance = previous

    def change_marker(self) -> Hashable | None:
        """A number that moves when a token-path change is committed by anyone, pushed by
        ``LISTEN kindling_changes`` (``_ChangeListener``, started here on first use, once
        per process); None while that listener is not listening (then callers read)."""
        listener = self._listener
        if listener is None or listener.pid != os.getpid():
            listener = self._start_listener()
            if listener is None:
                return None
        return listener.marker()

    def _start_listener(self) -> _ChangeListener | None:
        with self._listener_lock:
            if self._closed:
                return None
            listener = self._listener
            if listener is None or listener.pid != os.getpid():
                # None, or inherited through a fork (its thread stayed in the parent).
                listener = self._listener = _ChangeListener(self.url, self._kwargs)
            return listener

    def pool_usage(self) -> PoolUsage:
        stats = self._pool.get_stats()
        return PoolUsage(
            open=int(stats.get("pool_size", 0)),
            in_use=self._checked_out,
            waiting=int(stats.get("requests_waiting", 0)),
            max=self._pool.max_size,
        )

    def close(self) -> None:
        with self._listener_lock:
            self._closed = True
            listener, self._listener = self._listener, None
        if listener is not None and listener.pid == os.getpid():
            listener.close()
        self._pool.close()
