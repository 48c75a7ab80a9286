"""Industries: Kinde's reference list of industries (``GET /industries``).

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes of this package (imported here, not at import time); it stores nothing."""
    from kindling.platform.registry import Resource
    from kindling.resources.industries import routes

    return Resource("industries", routers=(routes.router,))
