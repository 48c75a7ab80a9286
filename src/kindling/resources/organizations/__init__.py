"""Organizations (``/organization``, ``/organizations/...``).

Sub-packages: ``members`` (organization users) and ``invites``.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.organizations import routes
    from kindling.resources.organizations.invites import routes as invites_routes
    from kindling.resources.organizations.invites.repository import INVITES_REPO
    from kindling.resources.organizations.invites.sql import SqlInviteRepository
    from kindling.resources.organizations.members import routes as members_routes
    from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO
    from kindling.resources.organizations.members.sql import SqlMembershipRepository
    from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
    from kindling.resources.organizations.sql import SqlOrganizationRepository

    return Resource(
        "organizations",
        routers=(routes.router, members_routes.router, invites_routes.router),
        repositories={
            ORGANIZATIONS_REPO: SqlOrganizationRepository,
            MEMBERSHIPS_REPO: SqlMembershipRepository,
            INVITES_REPO: SqlInviteRepository,
        },
    )
