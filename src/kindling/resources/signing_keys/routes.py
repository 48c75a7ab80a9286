"""``/kindling/v1/keys``: list, rotate and revoke the signing keys.

Kinde's Management API has no such operations, so they are Kindling's, with the same
bearer tokens. Signing keys belong to the environment, so reading them takes Kinde's
``read:environments`` and changing them ``update:environments``.
"""

from __future__ import annotations

from typing import Any

from kindling.platform.bodies import Body, decode_body
from kindling.platform.operations import Call, ErrorBody, Router
from kindling.platform.render import success
from kindling.resources.signing_keys import service

extensions = Router("Kindling extensions")


class RotateBody(Body, frozen=True):
    """``{"publish_delay": seconds}``, optional: how long the new key is published
    before it signs (default ``DEFAULT_PUBLISH_DELAY``)."""

    publish_delay: object = None


@extensions.operation("GET", "/keys", scope="read:environments", operation_id="getSigningKeys")
def get_signing_keys(call: Call) -> dict[str, Any]:
    """Every signing key with its state now (``next``, ``active``, ``retired``,
    ``expired``, ``revoked``), newest first."""
    keys = [service.key_data(state) for state in service.list_keys(call.ctx)]
    return success("Success", keys=keys)


@extensions.operation(
    "POST",
    "/keys/rotate",
    scope="update:environments",
    operation_id="rotateSigningKey",
    body=True,
    errors=(409,),
)
def rotate_signing_key(call: Call) -> dict[str, Any]:
    """Publish a new key now; it signs once ``publish_delay`` has passed."""
    body = decode_body(call.json(required=False), RotateBody)
    rotation = service.rotate_keys(call.ctx, body.publish_delay)
    key = service.key_data(rotation.key)
    return success(
        f"The signing key {key['kid']} is published and signs from {key['activates_on']}",
        code="SIGNING_KEY_ROTATED",
        key=key,
        previous_key=service.key_data(rotation.previous) if rotation.previous else None,
    )


@extensions.operation(
    "POST",
    "/keys/{kid}/revoke",
    scope="update:environments",
    operation_id="revokeSigningKey",
    errors=(404,),
    not_found=ErrorBody.ERROR_RESPONSE,
)
def revoke_signing_key(call: Call) -> dict[str, Any]:
    """Emergency revoke: out of the JWKS and refused at once; a signing key is replaced."""
    kid = call.path["kid"]
    revocation = service.revoke_key(call.ctx, kid)
    if revocation is None:
        return success(f"The signing key {kid} was already revoked", code="OK")
    replacement = revocation.replacement
    return success(
        f"The signing key {kid} is revoked; tokens it signed are refused",
        code="SIGNING_KEY_REVOKED",
        key=service.key_data(revocation.key),
        replacement_key=service.key_data(replacement) if replacement else None,
    )
