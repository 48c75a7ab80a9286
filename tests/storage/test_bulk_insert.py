"""``Session.bulk_insert``: multi-row ``INSERT`` statements on SQLite, ``COPY`` on PostgreSQL.

SQLite gets ``BULK_ROWS`` rows per statement at most, and never more bound parameters than
the connection's ``SQLITE_LIMIT_VARIABLE_NUMBER``; whatever the number of statements, one
call is all or nothing inside its unit of work.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kindling.platform import engine as engine_module
from kindling.platform.engine import IntegrityViolation, SqliteEngine
from kindling.platform.storage import Storage
from kindling.resources.users.repository import USERS_REPO
from tests.storage.conftest import uid
from tests.storage.factories_identity import email_address, make_user

COLUMNS = ("id", "name", "flag", "amount", "blob")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[SqliteEngine]:
    opened = SqliteEngine(tmp_path / "bulk.db")
    with opened.session(write=True) as session:
        session.execute(
            "CREATE TABLE things (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL "
            "UNIQUE, name TEXT, flag INTEGER NOT NULL, amount INTEGER, blob BLOB)"
        )
    yield opened
    opened.close()


def _rows(count: int) -> list[tuple[object, ...]]:
    return [
        (f"t{n}", None if n % 3 else f"name {n}", n % 2 == 0, n * 7, bytes([n % 256]))
        for n in range(count)
    ]


def _stored(engine: SqliteEngine) -> list[tuple[object, ...]]:
    with engine.session(write=False) as session:
        found = session.all(f"SELECT {', '.join(COLUMNS)} FROM things ORDER BY seq")
    return [tuple(row) for row in found]


def _limit_variables(engine: SqliteEngine, limit: int) -> None:
    # The calling thread's connection: the one its sessions use.
    engine._connection().setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)


def test_rows_are_stored_in_order_across_statements(
    engine: SqliteEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BULK_ROWS", 7)
    rows = _rows(100)  # 14 full statements and one of 2 rows
    with engine.session(write=True) as session:
        session.bulk_insert("things", COLUMNS, rows)
    assert _stored(engine) == [(i, n, int(f), a, b) for i, n, f, a, b in rows]


def test_the_variable_limit_bounds_each_statement(engine: SqliteEngine) -> None:
    # 12 variables allow two rows of five columns per statement; more would be refused
    # with "too many SQL variables".
    _limit_variables(engine, 12)
    rows = _rows(25)
    with engine.session(write=True) as session:
        session.bulk_insert("things", COLUMNS, rows)
    assert [row[0] for row in _stored(engine)] == [row[0] for row in rows]


def test_a_row_wider_than_the_limit_is_refused_as_before(engine: SqliteEngine) -> None:
    _limit_variables(engine, 4)
    with pytest.raises(sqlite3.OperationalError, match="too many SQL variables"):
        with engine.session(write=True) as session:
            session.bulk_insert("things", COLUMNS, _rows(3))
    assert _stored(engine) == []


def test_a_duplicate_in_a_later_statement_writes_nothing(
    engine: SqliteEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BULK_ROWS", 4)
    rows = _rows(30)
    rows.append(rows[2])  # the eighth statement repeats an id of the first
    with pytest.raises(IntegrityViolation, match="UNIQUE"):
        with engine.session(write=True) as session:
            session.bulk_insert("things", COLUMNS, rows)
    assert _stored(engine) == []


def test_no_rows_is_a_no_op(engine: SqliteEngine) -> None:
    with engine.session(write=True) as session:
        session.bulk_insert("things", COLUMNS, [])
    assert _stored(engine) == []


def test_users_in_several_statements_on_both_engines(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BULK_ROWS", 3)
    users = [make_user(("email", email_address()), ("username", f"b{uid()}")) for _ in range(10)]
    with storage.transaction() as uow:
        uow[USERS_REPO].add_many(users)
    with storage.read() as uow:
        rows = uow[USERS_REPO].list_page(None, 100, user_ids=[u.id for u in users])
        grouped = uow[USERS_REPO].identities([u.id for u in users])
        stored = [uow[USERS_REPO].get(u.id) for u in users]
    assert [u.id for _, u in rows] == [u.id for u in users]
    assert {k: [i.id for i in v] for k, v in grouped.items()} == {
        u.id: [i.id for i in u.identities] for u in users
    }
    assert stored == users


def test_users_with_a_duplicate_in_the_last_statement_write_nothing(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BULK_ROWS", 3)
    shared = email_address()
    batch = [make_user(("email", email_address())) for _ in range(8)]
    batch += [make_user(("email", shared)), make_user(("email", shared.upper()))]
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[USERS_REPO].add_many(batch)
    with storage.read() as uow:
        assert uow[USERS_REPO].list_page(None, 100, user_ids=[u.id for u in batch]) == []
        assert uow[USERS_REPO].identities([u.id for u in batch]) == {}
