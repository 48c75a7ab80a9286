"""Kindling's own operations, outside Kinde's ``/api/v1`` namespace (mounted at ``/kindling/v1``).

Kinde's Management API has no way to rotate an M2M application's secret, so we
add one. It takes the same bearer tokens and scopes as the Management API.
"""

from typing import Any

from kindling.clock import isoformat
from kindling.errors import ValidationError
from kindling.services import applications as service
from kindling.services import feature_flags
from kindling.web.api.framework import Call, Param, Router

router = Router("Kindling extensions")


@router.operation(
    "POST",
    "/applications/{application_id}/rotate_secret",
    scope="update:applications",
    operation_id="rotateApplicationSecret",
    body=True,
)
def rotate_application_secret(call: Call) -> dict[str, Any]:
    """Issue a new client secret; the old ones keep working for ``grace_seconds`` (default 1 h)."""
    grace = call.json(required=False).get("grace_seconds", service.DEFAULT_GRACE)
    if not isinstance(grace, int) or isinstance(grace, bool):
        raise ValidationError("grace_seconds must be an integer", "INVALID_GRACE_SECONDS")
    secret, expires_at = service.rotate_secret(
        call.ctx.storage, call.ctx.hasher, call.ctx.clock, call.path["application_id"], grace
    )
    return {
        "code": "SECRET_ROTATED",
        "message": "A new client secret was issued; it is shown only now",
        "client_id": call.path["application_id"],
        "client_secret": secret,
        "previous_secrets_expire_on": isoformat(expires_at),
    }


@router.operation(
    "GET",
    "/users/{user_id}/feature_flags",
    scope="read:environment_feature_flags",
    operation_id="getUserFeatureFlags",
    query=(Param("org_code"),),
)
def get_user_feature_flags(call: Call) -> dict[str, Any]:
    """The flags one user sees (user > organization > environment > default).

    Kinde's API can set user overrides but not read the result; this evaluates it.
    """
    values = feature_flags.user_values(
        call.ctx.storage, call.path["user_id"], call.query.get("org_code")
    )
    return {
        "code": "OK",
        "message": "Success",
        "feature_flags": {v.key: {"type": v.type, "value": v.value} for v in values},
    }
