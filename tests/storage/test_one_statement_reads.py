"""``Engine.session(one_statement=True)``: a read of one statement with no transaction
around it (no ``BEGIN``/``COMMIT``; on PostgreSQL one round trip), which still turns a
fault of the database into ``StorageUnavailable`` and gives its connection back."""

from __future__ import annotations

from pathlib import Path

import pytest

from kindling.platform.engine import (
    TIMEOUT,
    EngineLimits,
    PostgresEngine,
    SqliteEngine,
    StorageUnavailable,
)


def test_postgres_sends_no_begin_for_a_one_statement_read(pg_url: str) -> None:
    """In a transaction ``now()`` is the time of its ``BEGIN``, an earlier round trip than
    the statement's; a statement that is its own transaction starts both at once."""
    engine = PostgresEngine(pg_url)
    try:
        query = "SELECT now() = statement_timestamp() AS alone"
        with engine.session(write=False, one_statement=True) as session:
            assert session.one(query) == {"alone": True}
        with engine.session(write=False) as session:
            assert session.one(query) == {"alone": False}
    finally:
        engine.close()


def test_postgres_one_statement_read_faults_as_storage_unavailable(pg_url: str) -> None:
    engine = PostgresEngine(pg_url, limits=EngineLimits(statement_timeout=0.2))
    try:
        with pytest.raises(StorageUnavailable) as caught:
            with engine.session(write=False, one_statement=True) as session:
                session.one("SELECT pg_sleep(2)")
        assert caught.value.reason == TIMEOUT
        assert engine.pool_usage().in_use == 0
        with engine.session(write=False, one_statement=True) as session:
            assert session.values("SELECT 1, 'two'") == [(1, "two")]
    finally:
        engine.close()


def test_sqlite_one_statement_read_joins_an_open_transaction(tmp_path: Path) -> None:
    """Nested in a transaction of the same thread, the read sees its uncommitted writes
    (it joins it, as any nested session does) and may run more than one statement."""
    engine = SqliteEngine(tmp_path / "one.db")
    try:
        with engine.session(write=True) as outer:
            outer.execute("CREATE TABLE t (n INTEGER)")
            outer.execute("INSERT INTO t VALUES (1)")
            with engine.session(write=False, one_statement=True) as inner:
                assert inner.values("SELECT n FROM t") == [(1,)]
                assert inner.values("SELECT count(*) FROM t") == [(1,)]
        with engine.session(write=False, one_statement=True) as session:
            assert session.values("SELECT n FROM t") == [(1,)]
            with pytest.raises(RuntimeError, match="second statement"):
                session.values("SELECT n FROM t")
    finally:
        engine.close()
