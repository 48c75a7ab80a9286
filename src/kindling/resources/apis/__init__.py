"""APIs (audiences), their scopes, and which applications are authorized for them.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.apis import routes
    from kindling.resources.apis.repository import APIS_REPO
    from kindling.resources.apis.sql import SqlApiRepository

    return Resource(
        "apis",
        routers=(routes.router,),
        repositories={APIS_REPO: SqlApiRepository},
    )
