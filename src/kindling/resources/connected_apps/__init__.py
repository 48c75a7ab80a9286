"""Connected apps: external OAuth 2.0 providers connected on a user's or an organization's
behalf (Kinde's Connected Apps tag), their definitions and our callback.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
See ``docs/connected-apps.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.connected_apps import routes
    from kindling.resources.connected_apps.repository import CONNECTED_APPS_REPO
    from kindling.resources.connected_apps.sql import SqlConnectedAppRepository

    return Resource(
        "connected_apps",
        routers=(routes.router,),
        extensions=(routes.extensions,),
        repositories={CONNECTED_APPS_REPO: SqlConnectedAppRepository},
    )
