"""The audit log, read: ``GET /kindling/v1/audit`` (a Kindling extension).

The rows are written by the platform (``kindling.platform.audit``: the unit of work, the
token endpoint, the console), so this package owns no repository; it reads them through
the platform's ``AUDIT_REPO``, for the API, ``kindling audit`` and the console's Audit page.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.audit import routes

    return Resource("audit", extensions=(routes.extensions,))
