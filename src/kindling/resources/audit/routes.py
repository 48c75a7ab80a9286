"""``GET /kindling/v1/audit``: search the audit log (a Kindling extension).

Kinde's Management API has no audit-log operation (its audit log is a dashboard page),
so this one is Kindling's, with the same bearer tokens. It takes Kinde's ``read:events``:
the audit log is the record of the same changes ``GET /events/{event_id}`` reads, plus
token issuance and refusals, so whoever may read events may read it. Filters are those
of ``kindling audit`` (see ``service``); pages are ``page_size`` (default 50, at most
500) and ``next_token``.
"""

from __future__ import annotations

from typing import Any

from kindling.platform.audit import RESULTS
from kindling.platform.operations import Call, Router
from kindling.platform.params import NEXT_TOKEN, Query
from kindling.platform.render import paged
from kindling.resources.audit import service

extensions = Router("Kindling extensions")

ACTOR = Query.string("actor")
ACTION = Query.string("action")
TARGET = Query.string("target")
RESULT = Query.enum("result", RESULTS)
SINCE = Query.string("since")
UNTIL = Query.string("until")
PAGE_SIZE = Query.page_size(default=50)


@extensions.operation(
    "GET",
    "/audit",
    scope="read:events",
    operation_id="getAuditLog",
    query=(ACTOR, ACTION, TARGET, RESULT, SINCE, UNTIL, PAGE_SIZE, NEXT_TOKEN),
)
def get_audit_log(call: Call) -> dict[str, Any]:
    """Audit rows matching the filters, newest first."""
    where = service.build_filter(
        call.ctx.clock.now(),
        actor=call.param(ACTOR),
        action=call.param(ACTION),
        target=call.param(TARGET),
        result=call.param(RESULT),
        since=call.param(SINCE),
        until=call.param(UNTIL),
    )
    entries, token = service.search_page(
        call.ctx.storage, call.ctx.cursors, where, call.param(PAGE_SIZE), call.param(NEXT_TOKEN)
    )
    return paged("entries", [service.entry_item(e) for e in entries], token)
