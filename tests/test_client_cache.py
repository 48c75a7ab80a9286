"""The token endpoint's client cache on SQLite (``resources/applications/clients.py``).

A loaded client is reused while nothing it was read from changed: the audit writer's
batch commits (every 50 ms under load, from its own thread) leave it cached, and a change
to the application, its secrets or its grants, committed by any connection (another
worker process, the CLI), is seen by the very next request. Real storage, real writer;
another "process" is a second sqlite3 connection to the same file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kindling.bootstrap import bootstrap
from kindling.config import Settings
from kindling.context import build_context
from kindling.platform import audit
from kindling.platform.context import Context
from kindling.platform.storage import SQLITE_FILE
from kindling.resources.applications.clients import StorageClientStore

ISSUER = "http://localhost:9"


@dataclass
class Setup:
    ctx: Context
    client_id: str
    audience: str
    database: Path


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[Setup]:
    ctx = build_context(Settings(data_dir=tmp_path, master_key="client-cache-" + "k" * 32))
    try:
        made = bootstrap(ctx, ISSUER)
        assert made.client_id
        yield Setup(ctx, made.client_id, made.audience, tmp_path / SQLITE_FILE)
    finally:
        ctx.close()


def other_process(database: Path, sql: str, params: tuple[object, ...]) -> None:
    """Commit ``sql`` on a connection of its own, as another worker or the CLI would."""
    conn = sqlite3.connect(database)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def test_audit_batches_leave_the_cached_client_in_place(setup: Setup) -> None:
    store = StorageClientStore(setup.ctx.storage)
    first = store.load_client(setup.client_id, [setup.audience])
    assert first is not None
    assert store.load_client(setup.client_id, [setup.audience]) is first
    writer = setup.ctx.storage.audit
    now = int(setup.ctx.clock.now() * 1000)
    for batch in range(3):
        for i in range(10):
            writer.enqueue(
                audit.token_issued(
                    now, setup.client_id, [setup.audience], ("read:users",), f"j{batch}-{i}",
                    "127.0.0.1", None,
                )
            )  # fmt: skip
        writer.refusal(audit.token_refused(now, "x", [], "invalid_client", "192.0.2.1", None))
        # The writer commits from its own thread (its own connection), as in the server.
        flusher = threading.Thread(target=writer.flush)
        flusher.start()
        flusher.join()
        assert store.load_client(setup.client_id, [setup.audience]) is first
    with setup.ctx.storage.read() as uow:
        written = uow[audit.AUDIT_REPO].search(audit.AuditFilter(action="token.*"), None, 100)
    assert len(written) == 33  # 3 batches of 10 + 1 were committed, and the cache stayed


def test_a_change_by_another_process_is_seen_by_the_next_load(setup: Setup) -> None:
    store = StorageClientStore(setup.ctx.storage)
    first = store.load_client(setup.client_id, [setup.audience])
    assert first is not None
    rename = "UPDATE applications SET name = ? WHERE id = ?"
    other_process(setup.database, rename, ("renamed", setup.client_id))
    renamed = store.load_client(setup.client_id, [setup.audience])
    assert renamed is not None and renamed.application.name == "renamed"
    (grant,) = renamed.authorizations
    scopes = set(grant.scopes)
    assert "read:users" in scopes
    other_process(
        setup.database,
        "DELETE FROM api_application_scopes WHERE application_id = ? AND scope_id IN "
        "(SELECT id FROM api_scopes WHERE key = ?)",
        (setup.client_id, "read:users"),
    )
    narrowed = store.load_client(setup.client_id, [setup.audience])
    assert narrowed is not None
    (grant,) = narrowed.authorizations
    assert set(grant.scopes) == scopes - {"read:users"}
    forget = "DELETE FROM application_secrets WHERE application_id = ?"
    other_process(setup.database, forget, (setup.client_id,))
    no_secrets = store.load_client(setup.client_id, [setup.audience])
    assert no_secrets is not None and no_secrets.secrets == []
    other_process(setup.database, "DELETE FROM applications WHERE id = ?", (setup.client_id,))
    assert store.load_client(setup.client_id, [setup.audience]) is None


def test_a_change_in_this_process_is_seen_by_the_next_load(setup: Setup) -> None:
    from kindling.resources.applications.service import rotate_secret

    store = StorageClientStore(setup.ctx.storage)
    first = store.load_client(setup.client_id, [setup.audience])
    assert first is not None
    rotate_secret(setup.ctx.storage, setup.ctx.hasher, setup.ctx.clock, setup.client_id)
    rotated = store.load_client(setup.client_id, [setup.audience])
    assert rotated is not None and rotated is not first
    assert len(rotated.secrets) == len(first.secrets) + 1
