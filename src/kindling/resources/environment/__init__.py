"""The environment: issuer, settings, logos and passkey policy.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.environment import routes
    from kindling.resources.environment.repository import ENVIRONMENT_REPO
    from kindling.resources.environment.sql import SqlEnvironmentRepository

    return Resource(
        "environment",
        routers=(routes.router,),
        repositories={ENVIRONMENT_REPO: SqlEnvironmentRepository},
    )
