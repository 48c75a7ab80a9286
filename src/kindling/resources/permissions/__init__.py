"""Permissions.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.permissions import routes
    from kindling.resources.permissions.repository import PERMISSIONS_REPO
    from kindling.resources.permissions.sql import SqlPermissionRepository

    return Resource(
        "permissions",
        routers=(routes.router,),
        repositories={PERMISSIONS_REPO: SqlPermissionRepository},
    )
