"""Connected Apps: Kinde's three operations, and Kindling's provider definitions and callback.

Kinde's operations (``/api/v1``): the authorization URL, the session's access token and
its revocation. Kindling's own (``/kindling/v1``): the provider definitions Kinde keeps in
its console (Settings > Connected apps), and the callback the provider sends the user
back to, which is the ``redirect_uri`` to register at the provider.
"""

from typing import Any

from kindling.clock import isoformat
from kindling.platform.operations import Call, ErrorBody, Redirect, Router
from kindling.platform.params import Query
from kindling.platform.render import compact, success
from kindling.resources.connected_apps import service
from kindling.resources.connected_apps.model import Provider, provider_item
from kindling.resources.connected_apps.sealing import ConnectedAppKeys, keys_for

router = Router("Connected Apps")
extensions = Router("Kindling extensions")

#: Where ``/kindling/v1`` is mounted, and our callback under it.
EXTENSION_PREFIX = "/kindling/v1"
CALLBACK_PATH = "/connected_apps/callback"
PROVIDERS_PATH = "/connected_apps/providers"

KEY_CODE_REF = Query.string("key_code_ref", required=True, max_length=service.KEY_CODE_REF_MAX)
USER_ID = Query.string("user_id", max_length=128)
ORG_CODE = Query.string("org_code", max_length=128)
OVERRIDE_CALLBACK_URL = Query.string("override_callback_url", max_length=service.URL_MAX)
SESSION_ID = Query.string("session_id", required=True, max_length=256)
# The callback's parameters (RFC 6749 §4.1.2, §4.1.2.1; ``error_description`` is not read).
STATE = Query.string("state", required=True, max_length=512)
CODE = Query.string("code", max_length=4096)
ERROR = Query.string("error", max_length=256)


def redirect_uri(call: Call) -> str:
    """Our callback's absolute URL, under the issuer the server announces."""
    return call.ctx.issuer().rstrip("/") + EXTENSION_PREFIX + CALLBACK_PATH


def _keys(call: Call) -> ConnectedAppKeys:
    return keys_for(call.ctx.master)


@router.operation(
    "GET",
    "/connected_apps/auth_url",
    scope="read:connected_apps",
    operation_id="GetConnectedAppAuthUrl",
    query=(KEY_CODE_REF, USER_ID, ORG_CODE, OVERRIDE_CALLBACK_URL),
    errors=(404,),
    not_found=ErrorBody.ERROR_RESPONSE,
)
def get_connected_app_auth_url(call: Call) -> dict[str, Any]:
    """Kinde's ``connected_apps_auth_url``: the provider's URL and the new session's id.

    An unknown ``key_code_ref`` (``CONNECTED_APP_NOT_FOUND``), ``user_id`` or
    ``org_code`` is the 404 the spec declares for this operation, in its
    ``error_response`` body (``errors`` a list)."""
    started = service.start_authorization(
        call.ctx.storage,
        call.ctx.clock,
        _keys(call),
        redirect_uri(call),
        call.param(KEY_CODE_REF),
        user_id=call.param(USER_ID),
        org_code=call.param(ORG_CODE),
        override_callback_url=call.param(OVERRIDE_CALLBACK_URL),
    )
    return {"url": started.url, "session_id": started.session_id}


@router.operation(
    "GET",
    "/connected_apps/token",
    scope="read:connected_apps",
    operation_id="GetConnectedAppToken",
    query=(SESSION_ID,),
)
def get_connected_app_token(call: Call) -> dict[str, Any]:
    """Kinde's ``connected_apps_access_token``; ``access_token_expiry`` is ISO 8601, and
    omitted when the provider did not say when its token expires."""
    issued = service.access_token(
        call.ctx.storage, call.ctx.clock, _keys(call), call.param(SESSION_ID)
    )
    expiry = None if issued.expires_at is None else isoformat(issued.expires_at)
    return compact({"access_token": issued.access_token, "access_token_expiry": expiry})


@router.operation(
    "POST",
    "/connected_apps/revoke",
    scope="create:connected_apps",
    operation_id="RevokeConnectedAppToken",
    query=(SESSION_ID,),
)
def revoke_connected_app_token(call: Call) -> dict[str, Any]:
    service.revoke(call.ctx.storage, call.ctx.clock, _keys(call), call.param(SESSION_ID))
    return success("Connected app tokens revoked", "CONNECTED_APP_TOKEN_REVOKED")


# --- Kindling's provider definitions and callback ---------------------------------------
# Kinde's scope catalogue has ``read:connected_apps`` and ``create:connected_apps`` only:
# reading a definition takes the first, every change of one the second.


def _item(call: Call, provider: Provider) -> dict[str, Any]:
    return provider_item(provider, redirect_uri(call))


@extensions.operation(
    "POST",
    PROVIDERS_PATH,
    scope="create:connected_apps",
    status=201,
    operation_id="createConnectedAppProvider",
    body=True,
    errors=(409,),
)
def create_provider(call: Call) -> dict[str, Any]:
    provider = service.create_provider(call.ctx.storage, call.ctx.clock, _keys(call), call.json())
    return success(
        "Connected app created", "CONNECTED_APP_CREATED", connected_app=_item(call, provider)
    )


@extensions.operation(
    "GET",
    PROVIDERS_PATH,
    scope="read:connected_apps",
    operation_id="getConnectedAppProviders",
)
def get_providers(call: Call) -> dict[str, Any]:
    providers = service.list_providers(call.ctx.storage)
    return success("Success", connected_apps=[_item(call, p) for p in providers])


@extensions.operation(
    "GET",
    PROVIDERS_PATH + "/{key_code_ref}",
    scope="read:connected_apps",
    operation_id="getConnectedAppProvider",
    errors=(404,),
)
def get_provider(call: Call) -> dict[str, Any]:
    provider = service.get_provider(call.ctx.storage, call.path["key_code_ref"])
    return success("Success", connected_app=_item(call, provider))


@extensions.operation(
    "PATCH",
    PROVIDERS_PATH + "/{key_code_ref}",
    scope="create:connected_apps",
    operation_id="updateConnectedAppProvider",
    body=True,
    errors=(404,),
)
def update_provider(call: Call) -> dict[str, Any]:
    provider = service.update_provider(
        call.ctx.storage, call.ctx.clock, _keys(call), call.path["key_code_ref"], call.json()
    )
    return success(
        "Connected app updated", "CONNECTED_APP_UPDATED", connected_app=_item(call, provider)
    )


@extensions.operation(
    "DELETE",
    PROVIDERS_PATH + "/{key_code_ref}",
    scope="create:connected_apps",
    operation_id="deleteConnectedAppProvider",
    errors=(404, 409),
)
def delete_provider(call: Call) -> dict[str, Any]:
    service.delete_provider(call.ctx.storage, call.path["key_code_ref"])
    return success("Connected app deleted", "CONNECTED_APP_DELETED")


@extensions.operation(
    "GET",
    CALLBACK_PATH,
    scope=None,
    operation_id="connectedAppCallback",
    query=(STATE, CODE, ERROR),
    public=True,
)
def callback(call: Call) -> dict[str, Any] | Redirect:
    """The provider's redirect back (RFC 6749 §4.1.2): no bearer token, the ``state``
    is the credential.

    When the session has a ``callback_url`` (``override_callback_url``, else the
    definition's) the browser is sent on there with a 302, the outcome in its query
    (``service.callback_location``: ``key_code_ref``, and ``error``... on failure).
    Without one, or when the state names no session (nothing says where to go), the
    answer is JSON: the outcome, or the 400 error."""
    outcome = service.settle_callback(
        call.ctx.storage,
        call.ctx.clock,
        _keys(call),
        call.param(STATE),
        code=call.param(CODE),
        error=call.param(ERROR),
    )
    if outcome.callback_url is not None:
        return Redirect(service.callback_location(outcome.callback_url, outcome))
    if outcome.error is not None:
        raise outcome.error
    return {
        "code": "CONNECTED_APP_AUTHORIZED",
        "message": "The connected app is authorized; this window can be closed",
        "key_code_ref": outcome.key_code_ref,
    }
