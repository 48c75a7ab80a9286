"""Search the audit log: the one path for the API, ``kindling audit`` and the console.

Filters (all optional, combined with AND):

* ``actor``: the actor's id exactly (an application's client id, a console username);
* ``action``: an action exactly (``user.created``, ``token.refused``) or a prefix ending
  in ``*`` (``user.*``, ``api.*``);
* ``target``: ``TYPE:ID`` (``user:kp_...``), ``TYPE:`` (every ``user``) or an ``ID``;
* ``result``: ``success`` or ``failure``;
* ``since`` (inclusive) and ``until`` (exclusive): an ISO 8601 date or date-time (UTC
  when it has no offset), Unix seconds, or an age back from now (``15m``, ``2h``, ``7d``).

Rows come newest first; pages are keyset (``next_token`` bound to the filters, so a token
cannot page another search). Bad input is 400 with the parameter's code
(``INVALID_SINCE``, ``INVALID_ACTION``, ...) and reads nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from kindling.clock import isoformat
from kindling.platform.audit import AUDIT_REPO, RESULTS, AuditEntry, AuditFilter
from kindling.platform.codes import Code, derived
from kindling.platform.errors import ValidationError
from kindling.platform.pagination import CursorCodec, keyset_page, page
from kindling.platform.storage import Storage

#: Actions are dotted names of letters, digits and ``_`` (``api.createUser``).
_ACTION = re.compile(r"[A-Za-z0-9_.]{1,128}\*?|\*")
_AGE = re.compile(r"(\d{1,9})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
TEXT_MAX = 256


def parse_time(raw: str | None, name: str, now: float) -> int | None:
    """``since`` / ``until`` as Unix milliseconds (see the module docstring)."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    code = derived(f"INVALID_{name.upper()}")
    age = _AGE.fullmatch(text)
    if age:
        return int((now - int(age.group(1)) * _UNITS[age.group(2)]) * 1000)
    if text.isdigit() and len(text) <= 12:
        return int(text) * 1000
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{name} must be an ISO 8601 time, Unix seconds or an age like 2h", code
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _text(raw: str | None, name: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if len(value) > TEXT_MAX or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValidationError(f"{name} is not valid", derived(f"INVALID_{name.upper()}"))
    return value


def build_filter(
    now: float,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    result: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AuditFilter:
    """Check every filter (400 with its code) and build the search."""
    action = _text(action, "action")
    if action is not None:
        if not _ACTION.fullmatch(action):
            raise ValidationError(
                "action must be an action like user.created, or a prefix ending in *",
                Code.INVALID_ACTION,
            )
        if action == "*":
            action = None
    target_type = target_id = None
    target = _text(target, "target")
    if target is not None:
        if ":" in target:
            kind, _, ident = target.partition(":")
            target_type, target_id = kind or None, ident or None
        else:
            target_id = target
    if result is not None and result.strip():
        result = result.strip()
        if result not in RESULTS:
            raise ValidationError("result must be success or failure", derived("INVALID_RESULT"))
    else:
        result = None
    where = AuditFilter(
        actor=_text(actor, "actor"),
        action=action,
        target_type=target_type,
        target_id=target_id,
        result=result,
        since=parse_time(since, "since", now),
        until=parse_time(until, "until", now),
    )
    return where


def search_page(
    storage: Storage,
    cursors: CursorCodec,
    where: AuditFilter,
    size: int,
    next_token: str | None,
) -> tuple[list[AuditEntry], str | None]:
    """One page of matching rows, newest first, and the token of the next page."""

    def fetch(after: int | None, limit: int) -> tuple[list[AuditEntry], int | None]:
        with storage.read() as uow:
            rows = uow[AUDIT_REPO].search(where, after, limit + 1)
        return page([(row.seq or 0, row) for row in rows], limit)

    return keyset_page(cursors, f"audit|{where.key()}", size, next_token, by_sequence=fetch)


def search(storage: Storage, where: AuditFilter, limit: int) -> list[AuditEntry]:
    """The newest ``limit`` matching rows (the CLI)."""
    with storage.read() as uow:
        return uow[AUDIT_REPO].search(where, None, limit)


def entry_item(entry: AuditEntry) -> dict[str, Any]:
    """An audit row as JSON (the API's ``entries`` and ``kindling audit --json``)."""
    target = None
    if entry.target_type is not None or entry.target_id is not None:
        target = {"type": entry.target_type, "id": entry.target_id}
    return {
        "id": str(entry.seq),
        "occurred_on": isoformat(entry.occurred_at / 1000),
        "action": entry.action,
        "result": entry.result,
        "error_code": entry.error_code,
        "actor": {"type": entry.actor_type, "id": entry.actor_id},
        "target": target,
        "ip": entry.ip,
        "request_id": entry.request_id,
        "count": entry.count,
        "event_id": entry.event_id,
        "details": dict(entry.details),
    }
