"""Feature flags and their environment, organization and user overrides.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.feature_flags import routes
    from kindling.resources.feature_flags.repository import FEATURE_FLAGS_REPO
    from kindling.resources.feature_flags.sql import SqlFeatureFlagRepository

    return Resource(
        "feature_flags",
        routers=(routes.router,),
        extensions=(routes.extensions,),
        repositories={FEATURE_FLAGS_REPO: SqlFeatureFlagRepository},
    )
