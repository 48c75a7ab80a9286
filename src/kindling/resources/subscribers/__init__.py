"""Subscribers: the people on the business's mailing list (``/subscribers``).

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.subscribers import routes
    from kindling.resources.subscribers.repository import SUBSCRIBERS_REPO
    from kindling.resources.subscribers.sql import SqlSubscriberRepository

    return Resource(
        "subscribers",
        routers=(routes.router,),
        repositories={SUBSCRIBERS_REPO: SqlSubscriberRepository},
    )
