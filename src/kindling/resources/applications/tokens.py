"""Test tokens without a client secret: the CLI's ``kindling token`` and the console.

The token goes through the same grant validation and claims as
``/oauth2/token``: the application must be an M2M app authorized for every
audience, and only granted scopes may be asked for. Only client authentication
is skipped, because the caller already holds the data dir (or an admin session).
"""

from collections.abc import Sequence
from typing import Any

from kindling.oauth import client_credentials
from kindling.oauth.errors import InvalidClientError
from kindling.oauth.requests import TokenRequest
from kindling.platform.context import Context
from kindling.resources.applications.clients import StorageClientStore


def mint_token(
    ctx: Context, application_id: str, audiences: Sequence[str], scopes: Sequence[str]
) -> dict[str, Any]:
    request = TokenRequest(
        params={"grant_type": "client_credentials", "scope": " ".join(scopes)}
        if scopes
        else {"grant_type": "client_credentials"},
        audiences=tuple(dict.fromkeys(audiences)),
    )
    audience_list = client_credentials.required_audiences(request)
    record = StorageClientStore(ctx.storage).load_client(application_id, audience_list)
    if record is None:
        raise InvalidClientError(f"no application has the id {application_id}")
    grant = client_credentials.validate(request, record)
    claims = client_credentials.build_claims(grant, ctx.issuer(), int(ctx.clock.now()))
    if ctx.claims_hook is not None or ctx.settings.app_properties_claim:
        claims = client_credentials.extend_claims(
            claims, grant, request, ctx.claims_hook, ctx.settings.app_properties_claim
        )
    return {
        "access_token": ctx.keyring.signer().sign(claims),
        "expires_in": claims["exp"] - claims["iat"],
        "scope": claims["scope"],
        "token_type": "Bearer",
    }
