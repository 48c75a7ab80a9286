"""API keys: created and rotated with the key shown once, stored hashed, verified.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.api_keys import routes
    from kindling.resources.api_keys.repository import API_KEYS_REPO
    from kindling.resources.api_keys.sql import SqlApiKeyRepository

    return Resource(
        "api_keys",
        routers=(routes.router,),
        repositories={API_KEYS_REPO: SqlApiKeyRepository},
    )
