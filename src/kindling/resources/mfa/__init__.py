"""MFA: the environment's multi-factor authentication policy (``PUT /mfa``).

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.mfa import routes
    from kindling.resources.mfa.repository import MFA_REPO
    from kindling.resources.mfa.sql import SqlMfaRepository

    return Resource("mfa", routers=(routes.router,), repositories={MFA_REPO: SqlMfaRepository})
