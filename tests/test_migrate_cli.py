"""``kindling migrate`` and ``--no-migrate``: what a deployment that migrates as its own step
relies on. Real processes on real PostgreSQL schemas and SQLite files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from kindling.platform.migrations import MIGRATIONS
from tests.conftest import require_postgres
from tests.support import PG_ADMIN_URL, create_pg_schema, drop_pg_schema, free_port

VERSIONS = [version for version, _, _ in MIGRATIONS]


def kindling(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kindling", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _env(tmp_path: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env["KINDLING_DATA_DIR"] = str(tmp_path / "data")
    if database_url:
        env["KINDLING_DATABASE_URL"] = database_url
    return env


@pytest.fixture
def pg_schema() -> Iterator[tuple[str, str]]:
    require_postgres()
    schema, url = create_pg_schema()
    yield schema, url
    drop_pg_schema(schema)


def applied_versions(schema: str) -> list[int]:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        rows = conn.execute(f"SELECT version FROM {schema}.schema_migrations").fetchall()
    return sorted(int(row[0]) for row in rows)


def test_status_of_a_fresh_database_lists_everything_pending_and_creates_nothing(
    tmp_path: Path, pg_schema: tuple[str, str]
) -> None:
    schema, url = pg_schema
    result = kindling("migrate", "--status", "--json", env=_env(tmp_path, url))
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["initialized"] is False and status["current"] is False
    assert status["pending"] == VERSIONS
    assert all(m["applied_on"] is None for m in status["migrations"])
    with psycopg.connect(PG_ADMIN_URL) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchone()
    assert tables == (0,)

    # A SQLite data dir that does not exist yet: reported, not created.
    env = _env(tmp_path)
    result = kindling("migrate", "--status", env=env)
    assert result.returncode == 0, result.stderr
    assert "no Kindling schema yet" in result.stdout
    assert not (tmp_path / "data").exists()


def test_migrate_applies_everything_once_and_is_then_a_no_op(
    tmp_path: Path, pg_schema: tuple[str, str]
) -> None:
    schema, url = pg_schema
    env = _env(tmp_path, url)
    first = kindling("migrate", "--json", env=env)
    assert first.returncode == 0, first.stderr
    body = json.loads(first.stdout)
    assert [m["version"] for m in body["applied"]] == VERSIONS
    assert body["current"] is True and body["version"] == VERSIONS[-1]

    again = kindling("migrate", env=env)
    assert again.returncode == 0, again.stderr
    assert "nothing to apply" in again.stdout
    assert applied_versions(schema) == VERSIONS

    status = json.loads(kindling("migrate", "--status", "--json", env=env).stdout)
    assert status["current"] is True and status["pending"] == []
    assert all(m["applied_on"] for m in status["migrations"])


def test_two_processes_migrating_one_schema_at_once_apply_each_migration_once(
    tmp_path: Path, pg_schema: tuple[str, str]
) -> None:
    schema, url = pg_schema
    env = _env(tmp_path, url)
    args = [sys.executable, "-m", "kindling", "migrate", "--json"]
    processes = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    applied = [
        version
        for stdout, _ in outputs
        for version in (m["version"] for m in json.loads(stdout)["applied"])
    ]
    # Between them each migration was applied by exactly one of the two.
    assert sorted(applied) == VERSIONS
    assert applied_versions(schema) == VERSIONS


def test_no_migrate_with_an_old_schema_refuses_to_serve_with_one_line(
    tmp_path: Path, pg_schema: tuple[str, str]
) -> None:
    schema, url = pg_schema
    env = _env(tmp_path, url)
    assert kindling("migrate", env=env).returncode == 0
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {schema}.schema_migrations WHERE version = %s", (VERSIONS[-1],))

    result = kindling("serve", "--port", str(free_port()), "--no-migrate", env=env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"1 migration pending ({VERSIONS[-1]})" in lines[0]
    assert "kindling migrate" in lines[0]
    assert "client secret" not in result.stdout  # nothing was set up
    # Refused, not migrated: the schema is as it was.
    assert applied_versions(schema) == VERSIONS[:-1]

    # The same refusal for any command, from the variable.
    listing = kindling("users", "list", env={**env, "KINDLING_MIGRATE": "off"})
    assert listing.returncode == 1 and "migration pending" in listing.stderr
    assert applied_versions(schema) == VERSIONS[:-1]


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_serve_refuses_a_database_a_newer_kindling_migrated(tmp_path: Path, engine: str) -> None:
    """Migrations on (the default): a schema newer than this build's newest migration is
    refused with one line naming both versions, before anything is set up or served."""
    schema = url = None
    if engine == "postgres":
        require_postgres()
        schema, url = create_pg_schema()
    try:
        env = _env(tmp_path, url)
        (tmp_path / "data").mkdir()
        assert kindling("migrate", env=env).returncode == 0
        newer = VERSIONS[-1] + 1
        row = (newer, "from a newer Kindling", "2099-01-01T00:00:00+00:00")
        insert = "INSERT INTO schema_migrations (version, name, applied_on) VALUES "
        if schema:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(insert.replace("schema_", f"{schema}.schema_") + "(%s, %s, %s)", row)
        else:
            with sqlite3.connect(tmp_path / "data" / "kindling.db") as db:
                db.execute(insert + "(?, ?, ?)", row)
            db.close()

        try:
            result = subprocess.run(
                [sys.executable, "-m", "kindling", "serve", "--port", str(free_port())],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"kindling serve started on a newer schema: {exc.stdout!r}")
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Traceback" not in output and "Uvicorn running" not in output, output
        (line,) = [line for line in result.stderr.splitlines() if line.strip()]
        assert line.startswith("Error: "), line
        assert f"version {newer}" in line and f"({VERSIONS[-1]})" in line, line
        assert "upgrade Kindling" in line, line
        assert "client secret" not in result.stdout  # nothing was set up

        # kindling migrate refuses with the same line; the schema is as it was.
        again = kindling("migrate", env=env)
        assert again.returncode == 1 and again.stderr.strip() == line, again.stderr
        status = json.loads(kindling("migrate", "--status", "--json", env=env).stdout)
        assert status["unknown"] == [newer] and status["version"] == newer
        assert status["current"] is False
    finally:
        if schema:
            drop_pg_schema(schema)
