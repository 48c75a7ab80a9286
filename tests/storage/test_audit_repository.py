"""The audit log's storage on both engines: the ``audit`` table's repository, the rows the
unit of work writes with every recorded event (same transaction, fail closed), and the
batched writer of token rows (coalescing, bounds, shutdown flush, retention).

The PostgreSQL schema is shared by the session, so every test names its own actors and
searches by them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from kindling.platform import audit
from kindling.platform.audit import (
    AUDIT_REPO,
    AuditEntry,
    AuditFilter,
    AuditUnavailable,
    AuditWriter,
    RequestAudit,
    current_audit,
)
from kindling.platform.engine import IntegrityViolation
from kindling.platform.event_types import EventType
from kindling.platform.outbox import OUTBOX_REPO
from kindling.platform.storage import Storage, current_request_id
from tests.storage.conftest import uid

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z in ms


def _entry(actor: str, at: int = T0, **values: object) -> AuditEntry:
    fields: dict[str, object] = {
        "occurred_at": at,
        "actor_type": audit.APPLICATION,
        "actor_id": actor,
        "action": "user.created",
        "target_type": "user",
        "target_id": f"kp_{uid()}",
    }
    fields.update(values)
    return AuditEntry(**fields)  # type: ignore[arg-type]


def _append(storage: Storage, *entries: AuditEntry) -> None:
    with storage.transaction() as uow:
        uow[AUDIT_REPO].append(entries)


def _search(storage: Storage, **where: object) -> list[AuditEntry]:
    with storage.read() as uow:
        return uow[AUDIT_REPO].search(AuditFilter(**where), None, 1000)  # type: ignore[arg-type]


@pytest.fixture
def context() -> Iterator[RequestAudit]:
    """A request context as the web layer sets it (an application from 10.0.0.7)."""
    recorded = RequestAudit(audit.APPLICATION, f"app_{uid()}", "10.0.0.7", "createUser")
    reset = current_audit.set(recorded)
    rid = current_request_id.set(f"req-{uid()}")
    yield recorded
    current_request_id.reset(rid)
    current_audit.reset(reset)


# --- the repository -------------------------------------------------------------------


def test_append_and_search_keep_every_field(storage: Storage) -> None:
    actor = f"app_{uid()}"
    stored = _entry(
        actor,
        ip="192.0.2.1",
        request_id="r-1",
        result=audit.FAILURE,
        error_code="INVALID_EMAIL",
        count=3,
        event_id="event_" + "0" * 32,
        details={"audiences": ["https://a"], "status": 400},
    )
    _append(storage, stored)
    (found,) = _search(storage, actor=actor)
    assert found.seq is not None
    assert found == replace(stored, seq=found.seq)
    assert (found.occurred_at, found.actor_type, found.actor_id, found.ip) == (
        T0,
        "application",
        actor,
        "192.0.2.1",
    )
    assert (found.action, found.result, found.error_code, found.count) == (
        "user.created",
        "failure",
        "INVALID_EMAIL",
        3,
    )
    assert (found.target_type, found.request_id, found.event_id) == (
        "user",
        "r-1",
        "event_" + "0" * 32,
    )
    assert found.details == {"audiences": ["https://a"], "status": 400}


def test_search_is_newest_first_and_pages_below_a_sequence(storage: Storage) -> None:
    actor = f"app_{uid()}"
    _append(storage, *[_entry(actor, T0 + i) for i in range(5)])
    rows = _search(storage, actor=actor)
    assert [r.occurred_at for r in rows] == [T0 + i for i in reversed(range(5))]
    with storage.read() as uow:
        second = uow[AUDIT_REPO].search(AuditFilter(actor=actor), rows[1].seq, 2)
    assert [r.seq for r in second] == [rows[2].seq, rows[3].seq]


def test_filters_narrow_by_action_target_result_and_time(storage: Storage) -> None:
    actor = f"app_{uid()}"
    user = f"kp_{uid()}"
    _append(
        storage,
        _entry(actor, T0, action="user.created", target_id=user),
        _entry(actor, T0 + 1000, action="user.updated", target_id=user),
        _entry(actor, T0 + 2000, action="user_x.deleted"),
        _entry(actor, T0 + 3000, action="token.refused", result="failure", target_type="token"),
    )
    assert {r.action for r in _search(storage, actor=actor, action="user.*")} == {
        "user.created",
        "user.updated",
    }
    # "_" in a prefix matches only itself (no LIKE wildcards).
    assert [r.action for r in _search(storage, actor=actor, action="user_*")] == ["user_x.deleted"]
    assert [r.action for r in _search(storage, actor=actor, action="user.updated")] == [
        "user.updated"
    ]
    assert {r.action for r in _search(storage, actor=actor, target_id=user)} == {
        "user.created",
        "user.updated",
    }
    assert [r.action for r in _search(storage, actor=actor, target_type="token")] == [
        "token.refused"
    ]
    assert [r.action for r in _search(storage, actor=actor, result="failure")] == ["token.refused"]
    # since is inclusive, until exclusive
    window = _search(storage, actor=actor, since=T0 + 1000, until=T0 + 3000)
    assert [r.occurred_at for r in window] == [T0 + 2000, T0 + 1000]
    assert _search(storage, actor=f"nobody-{uid()}") == []


def test_prune_deletes_only_older_rows_in_chunks(storage: Storage) -> None:
    actor = f"app_{uid()}"
    _append(storage, *[_entry(actor, T0 - 1000 * (i + 1)) for i in range(5)], _entry(actor, T0))
    with storage.transaction() as uow:
        assert uow[AUDIT_REPO].prune(T0 - 500, 2) == 2
    assert storage.audit.prune(T0 - 500) >= 3
    assert [r.occurred_at for r in _search(storage, actor=actor)] == [T0]


def test_the_table_bounds_every_text_column(storage: Storage) -> None:
    """An over-long value is refused by the table's CHECK; the writer cuts values to the
    bounds first (``AuditEntry.bounded``), so only a bug can reach the CHECK."""
    actor = f"app_{uid()}"
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[AUDIT_REPO].append([_entry(actor, target_id="x" * 300)])
    assert _search(storage, actor=actor) == []
    _append(storage, _entry(actor, target_id="x" * 300, error_code="E" * 500).bounded())
    (found,) = _search(storage, actor=actor)
    assert found.target_id == "x" * 256 and found.error_code == "E" * 128


# --- the unit of work: one audit row per event, in the change's transaction ------------


def _record(storage: Storage, role_id: str) -> str:
    with storage.transaction() as uow:
        event = uow.record(EventType.ROLE_CREATED, {"role": {"id": role_id, "key": "k"}})
    return event.event_id


def test_every_committed_event_has_its_audit_row(storage: Storage, context: RequestAudit) -> None:
    role_id = f"role_{uid()}"
    event_id = _record(storage, role_id)
    (row,) = _search(storage, actor=context.actor_id)
    assert (row.action, row.result, row.target_type, row.target_id) == (
        "role.created",
        "success",
        "role",
        role_id,
    )
    assert (row.actor_type, row.ip, row.event_id) == ("application", "10.0.0.7", event_id)
    assert row.request_id == current_request_id.get()
    assert row.details == {"operation": "createUser"}
    assert context.written == 1
    with storage.read() as uow:
        assert uow[OUTBOX_REPO].get(event_id) is not None


def test_a_rolled_back_change_leaves_no_audit_row(storage: Storage, context: RequestAudit) -> None:
    with pytest.raises(RuntimeError), storage.transaction() as uow:
        uow.record(EventType.ROLE_CREATED, {"role": {"id": f"role_{uid()}"}})
        raise RuntimeError("boom")
    assert _search(storage, actor=context.actor_id) == []


def test_without_a_request_the_actor_is_system(storage: Storage) -> None:
    role_id = f"role_{uid()}"
    _record(storage, role_id)
    (row,) = _search(storage, target_id=role_id)
    assert (row.actor_type, row.actor_id, row.ip) == ("system", None, None)


def _break_audit_inserts(storage: Storage) -> None:
    """Make every insert into ``audit`` fail, as a full disk or a lost table would."""
    with storage.engine.session(write=True) as session:
        if session.dialect == "sqlite":
            session.execute(
                "CREATE TRIGGER audit_fails BEFORE INSERT ON audit "
                "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"
            )
        else:
            session.execute(
                "CREATE OR REPLACE FUNCTION audit_fails() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$ LANGUAGE plpgsql"
            )
            session.execute(
                "CREATE TRIGGER audit_fails BEFORE INSERT ON audit "
                "FOR EACH ROW EXECUTE FUNCTION audit_fails()"
            )


def _repair_audit_inserts(storage: Storage) -> None:
    with storage.engine.session(write=True) as session:
        if session.dialect == "sqlite":
            session.execute("DROP TRIGGER audit_fails")
        else:
            session.execute("DROP TRIGGER audit_fails ON audit")


def test_a_change_whose_audit_row_fails_is_not_committed(
    storage: Storage, context: RequestAudit
) -> None:
    """Fail closed (A12 row 51): the change, its outbox row and its audit row, or nothing.
    The failure is ``AuditUnavailable`` (503), not the ``IntegrityViolation`` services
    turn into 409."""
    _break_audit_inserts(storage)
    try:
        role_id = f"role_{uid()}"
        with pytest.raises(AuditUnavailable) as raised, storage.transaction() as uow:
            uow[OUTBOX_REPO]  # the change's own writes happen in this transaction
            event = uow.record(EventType.ROLE_CREATED, {"role": {"id": role_id}})
        assert not isinstance(raised.value, IntegrityViolation)
        assert raised.value.status_code == 503
        with storage.read() as uow:
            assert uow[OUTBOX_REPO].get(event.event_id) is None
    finally:
        _repair_audit_inserts(storage)
    assert _search(storage, target_id=role_id) == []


# --- the batched writer ----------------------------------------------------------------


def _writer(storage: Storage, **options: object) -> AuditWriter:
    return AuditWriter(storage, lambda: T0, **options)  # type: ignore[arg-type]


def test_queued_rows_are_written_by_the_background_thread(storage: Storage) -> None:
    writer = _writer(storage, interval=0.02)
    actor = f"app_{uid()}"
    try:
        for _ in range(3):
            writer.enqueue(
                audit.token_issued(T0, actor, ["https://a"], ["read:x"], "j", None, None)
            )
        deadline = time.monotonic() + 5
        while len(_search(storage, actor=actor)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        rows = _search(storage, actor=actor)
        assert len(rows) == 3
        assert rows[0].details == {
            "audiences": ["https://a"],
            "scope_count": 1,
            "scope_sha256": hashlib.sha256(b"read:x").hexdigest(),
        }
    finally:
        writer.close()


def test_close_writes_what_is_still_queued(storage: Storage) -> None:
    """Shutdown flushes: nothing queued is lost on a clean stop."""
    writer = _writer(storage, interval=60.0, batch=10_000)
    actor = f"app_{uid()}"
    for _ in range(7):
        writer.enqueue(_entry(actor, action="token.issued"))
    writer.close()
    assert len(_search(storage, actor=actor)) == 7


def test_refusals_in_one_second_are_one_row_with_a_count(storage: Storage) -> None:
    writer = _writer(storage, interval=60.0)
    actor = f"app_{uid()}"
    for i in range(50):
        writer.refusal(
            audit.token_refused(T0 + i, actor, [], "invalid_client", "198.51.100.9", None)
        )
    writer.refusal(
        audit.token_refused(T0 + 1500, actor, [], "invalid_client", "198.51.100.9", None)
    )
    writer.refusal(audit.token_refused(T0, actor, [], "invalid_scope", "198.51.100.9", None))
    writer.close()
    rows = {(r.occurred_at, r.error_code): r.count for r in _search(storage, actor=actor)}
    assert rows == {
        (T0, "invalid_client"): 50,
        (T0 + 1000, "invalid_client"): 1,
        (T0, "invalid_scope"): 1,
    }


def test_many_distinct_refusals_in_one_second_are_folded(storage: Storage) -> None:
    """Varying the client id cannot make a row per request: past ``refusal_keys`` distinct
    (client, IP) pairs in a second the client becomes ``*``, past twice that the IP too."""
    writer = _writer(storage, interval=60.0, refusal_keys=3)
    prefix = f"probe_{uid()}"
    at = T0 + 7_000
    for i in range(40):
        writer.refusal(
            audit.token_refused(at, f"{prefix}_{i}", [], "invalid_client", f"203.0.113.{i}", None)
        )
    writer.close()
    with storage.read() as uow:
        rows = [
            r
            for r in uow[AUDIT_REPO].search(
                AuditFilter(action="token.refused", since=at, until=at + 1), None, 1000
            )
            if (r.actor_id or "").startswith(prefix) or r.actor_id == "*"
        ]
    assert sum(r.count for r in rows) == 40
    assert len(rows) <= 3 + 3 + 1
    assert any(r.actor_id == "*" and r.ip == "*" for r in rows)


def test_a_full_queue_drops_and_counts(storage: Storage) -> None:
    writer = _writer(storage, interval=60.0, capacity=5, batch=10_000)
    actor = f"app_{uid()}"
    before = {r.seq for r in _search(storage, action=audit.ROWS_DROPPED)}
    for _ in range(8):
        writer.enqueue(_entry(actor, action="token.issued"))
    writer.close()
    assert len(_search(storage, actor=actor)) == 5
    dropped = [r for r in _search(storage, action=audit.ROWS_DROPPED) if r.seq not in before]
    assert [r.count for r in dropped] == [3]


def test_the_writer_prunes_rows_past_retention(storage: Storage) -> None:
    actor = f"app_{uid()}"
    old = T0 - 31 * 86_400_000
    _append(storage, _entry(actor, old), _entry(actor, T0 - 86_400_000))
    writer = _writer(storage, interval=0.01).configure(30)
    try:
        writer.enqueue(_entry(actor, T0, action="token.issued"))  # starts the thread
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            times = {r.occurred_at for r in _search(storage, actor=actor)}
            if old not in times and T0 in times:
                break
            time.sleep(0.02)
        assert {r.occurred_at for r in _search(storage, actor=actor)} == {T0, T0 - 86_400_000}
    finally:
        writer.close()


def test_record_fails_closed_with_audit_unavailable(storage: Storage) -> None:
    actor = f"app_{uid()}"
    _break_audit_inserts(storage)
    try:
        with pytest.raises(AuditUnavailable):
            storage.audit.record(_entry(actor))
    finally:
        _repair_audit_inserts(storage)
    storage.audit.record(_entry(actor))
    assert len(_search(storage, actor=actor)) == 1
