"""Billing: Kinde's agreements, entitlements and meter usage, and Kindling's plans.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.billing import routes
    from kindling.resources.billing.repository import BILLING_REPO
    from kindling.resources.billing.sql import SqlBillingRepository

    return Resource(
        "billing",
        routers=(routes.agreements, routes.entitlements, routes.meter_usage),
        extensions=(routes.extensions,),
        repositories={BILLING_REPO: SqlBillingRepository},
    )
