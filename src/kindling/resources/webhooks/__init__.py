"""Webhooks: subscriptions, the event-type catalogue, events by id, and their delivery.

Registered in ``kindling.resources``; ``resource()`` says what the package brings. The
background deliverer (``deliverer.Deliverer``) is started by the server's worker
processes (``kindling.web.asgi``), never on the request path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.webhooks import routes
    from kindling.resources.webhooks.repository import DELIVERIES_REPO, WEBHOOKS_REPO
    from kindling.resources.webhooks.sql import SqlDeliveryRepository, SqlWebhookRepository

    return Resource(
        "webhooks",
        routers=(routes.router,),
        extensions=(routes.extensions,),
        repositories={
            WEBHOOKS_REPO: SqlWebhookRepository,
            DELIVERIES_REPO: SqlDeliveryRepository,
        },
    )
