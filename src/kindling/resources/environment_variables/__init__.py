"""Environment variables: key/value pairs of the environment; secrets are write-only.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.environment_variables import routes
    from kindling.resources.environment_variables.repository import ENVIRONMENT_VARIABLES_REPO
    from kindling.resources.environment_variables.sql import SqlEnvironmentVariableRepository

    return Resource(
        "environment_variables",
        routers=(routes.router,),
        repositories={ENVIRONMENT_VARIABLES_REPO: SqlEnvironmentVariableRepository},
    )
