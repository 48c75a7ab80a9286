"""SCIM directories: one per organization, its bearer token shown once and stored hashed.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.directories import routes
    from kindling.resources.directories.repository import DIRECTORIES_REPO
    from kindling.resources.directories.sql import SqlDirectoryRepository

    return Resource(
        "directories",
        routers=(routes.router,),
        repositories={DIRECTORIES_REPO: SqlDirectoryRepository},
    )
