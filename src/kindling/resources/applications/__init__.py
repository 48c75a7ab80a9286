"""Applications, their secrets, callbacks and the token endpoint's view of them.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.applications import callback_routes, routes
    from kindling.resources.applications.repository import APPLICATIONS_REPO
    from kindling.resources.applications.sql import SqlApplicationRepository

    return Resource(
        "applications",
        routers=(routes.router, callback_routes.router),
        extensions=(routes.extensions,),
        repositories={APPLICATIONS_REPO: SqlApplicationRepository},
    )
