"""SQLite's one connection per thread: a thread that ended leaves none open.

anyio retires a worker thread idle for 10 s and starts a new one on the next burst, so a
server under steady load sees threads come and go for as long as it runs. Each SQLite
connection holds the parsed schema, cached statements and a page cache; kept past its
thread's end, that memory grew without bound (the soak of issue 10). Only SQLite: the
PostgreSQL engine draws from a bounded pool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kindling.platform.engine import SqliteEngine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[SqliteEngine]:
    opened = SqliteEngine(tmp_path / "threads.db")
    yield opened
    opened.close()


def _read(engine: SqliteEngine) -> int:
    with engine.session(write=False) as session:
        row = session.one("SELECT 41 + 1 AS answer")
    assert row is not None
    return int(row["answer"])


def _in_thread(engine: SqliteEngine) -> None:
    thread = threading.Thread(target=_read, args=(engine,))
    thread.start()
    thread.join()


def test_threads_that_ended_leave_no_connection_open(engine: SqliteEngine) -> None:
    for _ in range(40):
        _in_thread(engine)
    # The constructing thread's connection, and the last thread's: it is closed by the
    # next connection opened, not when its thread ends.
    assert engine.pool_usage().open == 2
    _in_thread(engine)
    assert engine.pool_usage().open == 2


def test_a_live_thread_keeps_its_connection(engine: SqliteEngine) -> None:
    opened, finish = threading.Barrier(4), threading.Event()
    answers: list[int] = []

    def hold() -> None:
        _read(engine)
        opened.wait(timeout=30)
        finish.wait(timeout=30)
        answers.append(_read(engine))  # the same connection, still open

    holders = [threading.Thread(target=hold) for _ in range(3)]
    for thread in holders:
        thread.start()
    opened.wait(timeout=30)
    for _ in range(10):
        _in_thread(engine)  # each opens a connection, closing only ended threads'
    assert engine.pool_usage().open == 1 + 3 + 1
    finish.set()
    for thread in holders:
        thread.join()
    assert answers == [42, 42, 42]
