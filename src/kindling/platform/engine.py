"""SQL engines: an embedded SQLite file (WAL) and PostgreSQL, behind one Session type.

Repositories are written once, in portable SQL with ``?`` placeholders; each
engine adapts placeholders, connection handling and error types. This module and
``migrations.py`` are the only places that import a database driver.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import unicodedata
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import psycopg
import psycopg.errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

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


class Engine(Protocol):
    """A database: hands out sessions, each one transaction."""

    dialect: str
    embedded: bool

    def session(self, write: bool) -> AbstractContextManager[Session]:
        """Open a transaction; ``write`` takes the write lock up front (SQLite)."""

    def change_marker(self) -> Hashable | None:
        """A value that changes whenever committed data may have changed, or None if the
        engine cannot tell cheaply (then callers must not cache)."""

    def close(self) -> None: ...


class _SqliteSession:
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        try:
            return self._conn.execute(sql, params).rowcount
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        if rows:
            marks = ", ".join("?" for _ in columns)
            self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return list(self._conn.execute(sql, params).fetchall())


class SqliteEngine:
    """SQLite in WAL mode, one connection per thread, writes under BEGIN IMMEDIATE.

    ``synchronous=NORMAL`` is durable across process crashes in WAL mode; a power
    loss may drop the last transactions but never corrupts the file.
    """

    dialect = "sqlite"
    embedded = True

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._local_writes = 0
        self._serials = itertools.count(1)
        with self.session(write=True):
            pass

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.create_function(SQLITE_FOLD, 1, _sql_fold, deterministic=True)
            self._local.conn = conn
            self._local.serial = next(self._serials)
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def session(self, write: bool) -> Iterator[Session]:
        conn = self._connection()
        if conn.in_transaction:
            # Nested use on the same thread joins the outer transaction.
            yield _SqliteSession(conn)
            return
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield _SqliteSession(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
        finally:
            if write:
                self._local_writes += 1

    def change_marker(self) -> Hashable | None:
        """``PRAGMA data_version`` of this thread's connection (it changes when any *other*
        connection, in any process, commits) plus this process's own write count."""
        conn = self._connection()
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        return (self._local.serial, version, self._local_writes)

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


class PostgresEngine:
    """PostgreSQL through a psycopg 3 connection pool; each session is one transaction."""

    dialect = "postgres"
    embedded = False

    def __init__(self, url: str, max_size: int = 10) -> None:
        self.url = url
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"row_factory": dict_row},
            open=True,
            timeout=10.0,
        )
        self._pool.wait(timeout=10.0)

    @contextmanager
    def session(self, write: bool) -> Iterator[Session]:
        with self._pool.connection() as conn, conn.transaction():
            yield _PostgresSession(conn)

    def change_marker(self) -> Hashable | None:
        return None

    def close(self) -> None:
        self._pool.close()
