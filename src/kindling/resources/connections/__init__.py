"""Connections: the ways to sign in (social providers, Entra ID, SAML) and their options.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.connections import routes
    from kindling.resources.connections.repository import CONNECTIONS_REPO
    from kindling.resources.connections.sql import SqlConnectionRepository

    return Resource(
        "connections",
        routers=(routes.router,),
        repositories={CONNECTIONS_REPO: SqlConnectionRepository},
    )
