"""The console's Audit page: the audit log, read-only, newest first, with the filters of
``kindling audit`` and ``GET /kindling/v1/audit`` (``kindling.resources.audit.service``)
and keyset pages. It only reads; nothing on it changes anything.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from kindling.clock import isoformat
from kindling.platform.audit import RESULTS
from kindling.resources.audit import service as audit_log
from kindling.web.console.app import Page, PageHandler

#: Rows per page.
PAGE_SIZE = 50
FILTERS = ("actor", "action", "target", "result", "since", "until")


def _when(ms: int) -> str:
    return isoformat(ms / 1000)


def audit_page(page: Page) -> Response:
    values = {name: page.value(name) for name in FILTERS}
    where = audit_log.build_filter(
        page.ctx.clock.now(), **{k: v or None for k, v in values.items()}
    )
    entries, token = audit_log.search_page(
        page.ctx.storage, page.ctx.cursors, where, PAGE_SIZE, page.value("next_token") or None
    )
    query = {k: v for k, v in values.items() if v}
    next_link = f"{page.path}?{urlencode({**query, 'next_token': token})}" if token else None
    first_link = None
    if page.value("next_token"):
        first_link = page.path + (f"?{urlencode(query)}" if query else "")
    return page.render(
        "audit.html",
        "audit",
        "Audit log",
        entries=entries,
        filters=values,
        results=RESULTS,
        filtered=bool(query),
        next_link=next_link,
        first_link=first_link,
        when=_when,
    )


ROUTES: list[tuple[str, PageHandler | None, PageHandler | None]] = [
    ("/audit", audit_page, None),
]
