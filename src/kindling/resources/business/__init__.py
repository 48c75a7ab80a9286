"""Business: the environment's business details (``/business``).

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.business import routes
    from kindling.resources.business.repository import BUSINESS_REPO
    from kindling.resources.business.sql import SqlBusinessRepository

    return Resource(
        "business",
        routers=(routes.router,),
        repositories={BUSINESS_REPO: SqlBusinessRepository},
    )
