"""CLI commands and the database's bounds (``KINDLING_DB_*``, ``KINDLING_SQLITE_BUSY_TIMEOUT``).

A command opens storage through ``kindling.context.build_context``, as every worker does,
and gets the same bounded waits: the configured ones, not only the defaults. Against a
PostgreSQL that does not answer, a command ends promptly with one line and a non-zero
status, never a hang or a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kindling.config import Settings
from kindling.context import build_context
from kindling.platform.engine import limits_from
from tests.conftest import require_postgres
from tests.support import free_port

MASTER_KEY = "cli-database-" + "k" * 32


def test_a_command_against_an_unreachable_postgresql_fails_in_one_line(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    env = {
        **os.environ,
        "KINDLING_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed}/kindling",
        "KINDLING_MASTER_KEY": MASTER_KEY,
        "KINDLING_DB_CONNECT_TIMEOUT": "2",
    }
    env.pop("KINDLING_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "kindling", "apps", "list", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a hang fails here, not a speed claim
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error:") and "database" in lines[0]
    assert done.stdout == ""


def test_a_command_gets_the_configured_sqlite_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINDLING_SQLITE_BUSY_TIMEOUT", "7.5")
    monkeypatch.delenv("KINDLING_DATABASE_URL", raising=False)
    settings = Settings.from_env(data_dir=tmp_path, master_key=MASTER_KEY)
    ctx = build_context(settings)
    try:
        assert ctx.storage.engine.limits == limits_from(settings)
        with ctx.storage.engine.session(write=False) as session:
            row = session.one("PRAGMA busy_timeout")
        assert row is not None and row[0] == 7500
    finally:
        ctx.close()


def test_a_command_gets_the_configured_postgresql_timeouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    require_postgres()
    monkeypatch.setenv("KINDLING_DB_STATEMENT_TIMEOUT", "7")
    monkeypatch.setenv("KINDLING_DB_LOCK_TIMEOUT", "3")
    monkeypatch.setenv("KINDLING_DB_POOL_SIZE", "3")
    settings = Settings.from_env(data_dir=tmp_path, database_url=pg_url, master_key=MASTER_KEY)
    ctx = build_context(settings)
    try:
        assert ctx.storage.engine.limits == limits_from(settings)
        assert ctx.storage.engine.limits.pool_size == 3
        with ctx.storage.engine.session(write=False) as session:
            statement = session.one("SHOW statement_timeout")
            lock = session.one("SHOW lock_timeout")
        assert statement is not None and statement["statement_timeout"] == "7s"
        assert lock is not None and lock["lock_timeout"] == "3s"
    finally:
        ctx.close()
