"""The admin console's owner account, sessions and sign-in throttling (no Management API routes).

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.admin.repository import ADMIN_REPO
    from kindling.resources.admin.sql import SqlAdminRepository

    return Resource(
        "admin",
        routers=(),
        repositories={ADMIN_REPO: SqlAdminRepository},
    )
