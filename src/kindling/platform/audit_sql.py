"""The ``audit`` table over a ``Session``: append, search newest first, prune.

Portable SQL for SQLite and PostgreSQL. Searches walk ``seq`` downwards (keyset, the
same cost on every page); each filter uses an index (``v0021_audit``). An action
prefix (``user.*``) is matched with ``substr`` rather than ``LIKE`` so that ``_`` and
``%`` in it match only themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from kindling.platform.audit import AuditEntry, AuditFilter
from kindling.platform.engine import Row, Session

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

_COLUMNS = (
    "occurred_at",
    "actor_type",
    "actor_id",
    "ip",
    "request_id",
    "action",
    "target_type",
    "target_id",
    "result",
    "error_code",
    "count",
    "event_id",
    "details",
)
_INSERT = f"INSERT INTO audit ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
_SELECT = f"SELECT seq, {', '.join(_COLUMNS)} FROM audit"


class SqlAuditLog:
    """Implements ``platform.audit.AuditRepository`` within one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        self._session.executemany(
            _INSERT,
            [
                (
                    e.occurred_at,
                    e.actor_type,
                    e.actor_id,
                    e.ip,
                    e.request_id,
                    e.action,
                    e.target_type,
                    e.target_id,
                    e.result,
                    e.error_code,
                    e.count,
                    e.event_id,
                    _encode(dict(e.details)).decode(),
                )
                for e in entries
            ],
        )

    def search(self, where: AuditFilter, before: int | None, limit: int) -> list[AuditEntry]:
        clauses: list[str] = []
        params: list[Any] = []
        if before is not None:
            clauses.append("seq < ?")
            params.append(before)
        if where.actor is not None:
            clauses.append("actor_id = ?")
            params.append(where.actor)
        if where.action is not None:
            if where.action.endswith("*"):
                prefix = where.action[:-1]
                clauses.append("substr(action, 1, ?) = ?")
                params += [len(prefix), prefix]
            else:
                clauses.append("action = ?")
                params.append(where.action)
        if where.target_type is not None:
            clauses.append("target_type = ?")
            params.append(where.target_type)
        if where.target_id is not None:
            clauses.append("target_id = ?")
            params.append(where.target_id)
        if where.result is not None:
            clauses.append("result = ?")
            params.append(where.result)
        if where.since is not None:
            clauses.append("occurred_at >= ?")
            params.append(where.since)
        if where.until is not None:
            clauses.append("occurred_at < ?")
            params.append(where.until)
        sql = _SELECT
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(limit)
        return [_entry(row) for row in self._session.all(sql, params)]

    def prune(self, before: int, limit: int) -> int:
        # Every process prunes (at start, then hourly); on PostgreSQL several may at once
        # (instances sharing the database): each takes rows no other holds, never waits
        # for them and never deletes them twice. SQLite runs one writer at a time.
        skip = " FOR UPDATE SKIP LOCKED" if self._session.dialect == "postgres" else ""
        return self._session.execute(
            "DELETE FROM audit WHERE seq IN "
            f"(SELECT seq FROM audit WHERE occurred_at < ? ORDER BY seq LIMIT ?{skip})",
            (before, limit),
        )


def _entry(row: Row) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        occurred_at=row["occurred_at"],
        actor_type=row["actor_type"],
        actor_id=row["actor_id"],
        ip=row["ip"],
        request_id=row["request_id"],
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        result=row["result"],
        error_code=row["error_code"],
        count=row["count"],
        event_id=row["event_id"],
        details=_decode(row["details"]),
    )
