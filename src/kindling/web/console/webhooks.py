"""The console's webhooks page: every webhook with its latest deliveries and attempts,
and a Re-send button per delivery (the same re-queue as ``POST /kindling/v1/events/{id}/
resend`` and ``kindling webhooks resend``). Forms carry the session's CSRF token like
every console form; the page only reads and re-queues, it never sends a request itself.
"""

from __future__ import annotations

from starlette.responses import Response

from kindling.clock import isoformat
from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.resources.webhooks import service as webhooks
from kindling.web.console.app import Page, PageHandler

#: Deliveries shown per webhook.
RECENT = 10


def _when(ms: int) -> str:
    return isoformat(ms / 1000)


def webhooks_page(page: Page) -> Response:
    return page.render(
        "webhooks.html",
        "webhooks",
        "Webhooks",
        views=webhooks.webhooks_overview(page.ctx.storage, RECENT),
        when=_when,
    )


def webhooks_resend(page: Page) -> Response:
    event_id = page.value("event_id")
    if not event_id:
        raise ValidationError("Choose an event to re-send.", Code.INVALID_PARAMETER)
    queued = webhooks.resend_event(
        page.ctx.storage, page.ctx.clock, event_id, page.ctx.settings.webhook_retry_window
    )
    if not queued:
        return page.redirect(
            "/admin/webhooks",
            f"No webhook is subscribed to the type of {event_id}; nothing was queued.",
            error=True,
        )
    count = f"{len(queued)} webhook{'s' if len(queued) != 1 else ''}"
    return page.redirect("/admin/webhooks", f"Queued {event_id} again for {count}.")


ROUTES: list[tuple[str, PageHandler | None, PageHandler | None]] = [
    ("/webhooks", webhooks_page, None),
    ("/webhooks/resend", None, webhooks_resend),
]
