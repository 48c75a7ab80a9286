"""Properties, property categories and the values users, organizations and applications hold.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.properties import routes
    from kindling.resources.properties.repository import PROPERTIES_REPO
    from kindling.resources.properties.sql import SqlPropertyRepository

    return Resource(
        "properties",
        routers=(routes.router,),
        repositories={PROPERTIES_REPO: SqlPropertyRepository},
    )
