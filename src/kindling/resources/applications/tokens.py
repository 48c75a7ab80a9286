"""Test tokens without a client secret: the CLI's ``kindling token`` and the console.

The token goes through the same grant validation as ``/oauth2/token``
(``client_credentials.validate``: the application must be an M2M app authorized
for every audience, and only granted scopes may be asked for) and is made by the
same ``client_credentials.mint`` (claims, properties claim, custom-claims hook,
signing). Only client authentication is skipped, because the caller already
holds the data dir (or an admin session).
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
    """The token endpoint's success body (RFC 6749 §5.1) for the application, without its secret.

    Raises the endpoint's ``OAuthError`` for the same reasons it would answer one.
    """
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
    return client_credentials.mint(
        grant,
        request,
        ctx.issuer(),
        int(ctx.clock.now()),
        ctx.keyring.signer(),
        ctx.claims_hook,
        ctx.settings.app_properties_claim,
    ).response()
