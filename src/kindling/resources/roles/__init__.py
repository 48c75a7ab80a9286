"""Roles, their permissions and API scopes, and system permissions.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.event_types import EventType
    from kindling.platform.registry import Resource
    from kindling.resources.roles import routes
    from kindling.resources.roles.repository import ROLES_REPO
    from kindling.resources.roles.service import release_assignment_permission
    from kindling.resources.roles.sql import SqlRoleRepository

    return Resource(
        "roles",
        routers=(routes.router,),
        repositories={ROLES_REPO: SqlRoleRepository},
        reactions={EventType.PERMISSION_DELETED: (release_assignment_permission,)},
    )
