"""Refusing to start on unusable signing keys, with real ``kindling serve`` processes.

RELIABILITY-AND-USERS.md A12 case 50: a set-up environment whose database lost its
signing key, a sealed key that is corrupt, and a master key that is not the one the
keys were sealed with each stop ``kindling serve`` before it serves anything: exit code
1, one ``Error:`` line naming that cause, no traceback, and never a silently minted
replacement key. Each case on SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kindling.context import open_storage
from kindling.platform.storage import Storage
from tests.conftest import require_postgres
from tests.support import KindlingServer, create_pg_schema, drop_pg_schema, free_port

#: Run first (tests/conftest.py): about 3 s per test on a quiet machine.
pytestmark = pytest.mark.long(3)

OTHER_MASTER_KEY = "a-different-master-key-0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgres"])
def set_up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KindlingServer]:
    """A data dir (and database) that ``kindling serve`` set up and then stopped."""
    schema = database_url = None
    if request.param == "postgres":
        require_postgres()
        schema, database_url = create_pg_schema()
    server = KindlingServer(data_dir=tmp_path, port=free_port(), database_url=database_url)
    try:
        server.start()
        server.token()  # it served a token with the key it made
        server.stop()
        yield server
    finally:
        server.stop()
        if schema:
            drop_pg_schema(schema)


def storage_of(server: KindlingServer) -> Storage:
    return open_storage(server.database_url, server.data_dir, "2024-01-01T00:00:00+00:00")


def serve(
    server: KindlingServer, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``kindling serve`` that must refuse to start (it is killed after 60 s otherwise)."""
    return subprocess.run(
        [sys.executable, "-m", "kindling", "serve", "--port", str(server.port), "--no-access-log"],
        env={**server.env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    assert "Uvicorn running" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def kids(server: KindlingServer) -> list[str]:
    storage = storage_of(server)
    try:
        with storage.engine.session(write=False) as session:
            return [row["kid"] for row in session.all("SELECT kid FROM signing_keys")]
    finally:
        storage.close()


def test_a_missing_signing_key_refuses_to_start_and_mints_nothing(set_up: KindlingServer) -> None:
    storage = storage_of(set_up)
    try:
        with storage.engine.session(write=True) as session:
            session.execute("DELETE FROM signing_keys")
    finally:
        storage.close()
    line = assert_refused(serve(set_up), "holds no usable signing key", "kindling keys rotate")
    assert "master key" not in line
    assert kids(set_up) == []
    # The explicit way out: a key made on purpose, after which the server starts.
    made = set_up.cli("keys", "rotate", "--json")
    assert made.returncode == 0, made.stderr
    assert len(kids(set_up)) == 1
    set_up.start()
    assert set_up.token()


def test_a_corrupt_signing_key_names_the_key_not_the_master_key(set_up: KindlingServer) -> None:
    (kid,) = kids(set_up)
    storage = storage_of(set_up)
    try:
        with storage.engine.session(write=True) as session:
            row = session.one("SELECT sealed_private FROM signing_keys WHERE kid = ?", (kid,))
            assert row is not None
            sealed = bytearray(bytes(row["sealed_private"]))
            sealed[40] ^= 0x01
            session.execute(
                "UPDATE signing_keys SET sealed_private = ? WHERE kid = ?", (bytes(sealed), kid)
            )
    finally:
        storage.close()
    line = assert_refused(serve(set_up), f"signing key {kid} is corrupt", "the master key matches")
    assert "not the one this database was set up with" not in line
    assert kids(set_up) == [kid]


def test_a_wrong_master_key_names_the_master_key(set_up: KindlingServer) -> None:
    (kid,) = kids(set_up)
    line = assert_refused(
        serve(set_up, {"KINDLING_MASTER_KEY": OTHER_MASTER_KEY}),
        "the master key is not the one this database was set up with",
        "KINDLING_MASTER_KEY",
    )
    assert "corrupt" not in line
    assert kids(set_up) == [kid]
    # The right key still works: nothing was changed by the refused start.
    set_up.start()
    assert set_up.token()


def test_a_database_without_a_check_value_records_one_at_start(set_up: KindlingServer) -> None:
    """Databases set up before the check value existed: a start with the right master key
    records it, so a later wrong master key is named as such."""
    storage = storage_of(set_up)
    try:
        with storage.engine.session(write=True) as session:
            session.execute("UPDATE token_state SET seal_check = NULL")
    finally:
        storage.close()
    unsure = assert_refused(serve(set_up, {"KINDLING_MASTER_KEY": OTHER_MASTER_KEY}))
    assert "either the master key differs" in unsure
    set_up.start()
    set_up.stop()
    assert_refused(
        serve(set_up, {"KINDLING_MASTER_KEY": OTHER_MASTER_KEY}),
        "the master key is not the one this database was set up with",
    )
