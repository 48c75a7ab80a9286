"""User identities, sessions, MFA, password, claims refresh; the Identities resource."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.params import ENDING_BEFORE, STARTING_AFTER
from kindling.platform.render import compact, success
from kindling.resources.users.accounts import service
from kindling.resources.users.accounts.model import MfaFactor, UserSession
from kindling.resources.users.model import Identity

router = Router("Users")
identities_router = Router("Identities")


def identity_json(identity: Identity) -> dict[str, Any]:
    return compact(
        {
            "id": identity.id,
            "type": identity.type,
            "is_confirmed": identity.is_verified,
            "created_on": identity.created_on,
            "last_login_on": identity.last_login_on,
            "total_logins": identity.total_logins,
            "name": identity.value,
            "email": identity.value if identity.type == "email" else None,
            "connection_id": identity.connection_id,
            "is_primary": identity.is_primary,
        },
        ("connection_id",),
    )


def _session_json(session: UserSession) -> dict[str, Any]:
    return compact(
        {
            "user_id": session.user_id,
            "org_code": session.org_code,
            "client_id": session.client_id,
            "expires_on": session.expires_on,
            "session_id": session.id,
            "started_on": session.created_on,
            "updated_on": session.last_active_on or session.created_on,
            "last_ip_address": session.ip_address,
            "last_user_agent": session.user_agent,
            "initial_ip_address": session.ip_address,
            "initial_user_agent": session.user_agent,
        },
        ("org_code",),
    )


def _mfa_json(factor: MfaFactor) -> dict[str, Any]:
    return compact(
        {
            "id": factor.id,
            "type": factor.type,
            "created_on": factor.created_on,
            "name": factor.name,
        }
    )


@router.operation(
    "GET",
    "/users/{user_id}/identities",
    scope="read:user_identities",
    operation_id="GetUserIdentities",
    query=(STARTING_AFTER, ENDING_BEFORE),
)
def get_user_identities(call: Call) -> dict[str, Any]:
    result = service.list_identities(
        call.ctx.storage,
        call.path["user_id"],
        call.param(STARTING_AFTER),
        call.param(ENDING_BEFORE),
    )
    return {
        "code": "OK",
        "message": "Success",
        "identities": [identity_json(i) for i in result.identities],
        "has_more": result.has_more,
    }


@router.operation(
    "POST",
    "/users/{user_id}/identities",
    scope="create:user_identities",
    status=201,
    operation_id="CreateUserIdentity",
    body=True,
)
def create_user_identity(call: Call) -> dict[str, Any]:
    identity = service.create_identity(
        call.ctx.storage, call.ctx.clock, call.path["user_id"], call.json(required=False)
    )
    return success("Identity successfully created", identity={"id": identity.id})


@identities_router.operation(
    "GET", "/identities/{identity_id}", scope="read:identities", operation_id="GetIdentity"
)
def get_identity(call: Call) -> dict[str, Any]:
    return identity_json(service.get_identity(call.ctx.storage, call.path["identity_id"]))


@identities_router.operation(
    "PATCH",
    "/identities/{identity_id}",
    scope="update:identities",
    operation_id="UpdateIdentity",
    body=True,
)
def update_identity(call: Call) -> dict[str, Any]:
    service.update_identity(call.ctx.storage, call.path["identity_id"], call.json())
    return success("Identity successfully updated")


@identities_router.operation(
    "DELETE", "/identities/{identity_id}", scope="delete:identities", operation_id="DeleteIdentity"
)
def delete_identity(call: Call) -> dict[str, Any]:
    service.delete_identity(call.ctx.storage, call.path["identity_id"])
    return success("Identity successfully deleted")


@router.operation(
    "GET",
    "/users/{user_id}/sessions",
    scope="read:user_sessions",
    operation_id="GetUserSessions",
    errors=(404,),
)
def get_user_sessions(call: Call) -> dict[str, Any]:
    sessions, has_more = service.user_sessions(call.ctx.storage, call.path["user_id"])
    return {
        "code": "OK",
        "message": "Success",
        "has_more": has_more,
        "sessions": [_session_json(s) for s in sessions],
    }


@router.operation(
    "DELETE",
    "/users/{user_id}/sessions",
    scope="delete:user_sessions",
    operation_id="DeleteUserSessions",
    errors=(404,),
)
def delete_user_sessions(call: Call) -> dict[str, Any]:
    service.delete_sessions(call.ctx.storage, call.path["user_id"])
    return success("User sessions successfully invalidated")


@router.operation(
    "GET",
    "/users/{user_id}/mfa",
    scope="read:user_mfa",
    operation_id="GetUsersMFA",
    errors=(404,),
)
def get_users_mfa(call: Call) -> dict[str, Any]:
    factor = service.user_mfa(call.ctx.storage, call.path["user_id"])
    body = success("Success")
    if factor is not None:
        body["mfa"] = _mfa_json(factor)
    return body


@router.operation(
    "DELETE",
    "/users/{user_id}/mfa",
    scope="delete:user_mfa",
    operation_id="ResetUsersMFAAll",
    errors=(404,),
)
def reset_users_mfa_all(call: Call) -> dict[str, Any]:
    service.reset_mfa(call.ctx.storage, call.path["user_id"])
    return success("User's MFA successfully reset")


@router.operation(
    "DELETE",
    "/users/{user_id}/mfa/{factor_id}",
    scope="delete:user_mfa",
    operation_id="ResetUsersMFA",
    errors=(404,),
)
def reset_users_mfa(call: Call) -> dict[str, Any]:
    service.reset_mfa_factor(call.ctx.storage, call.path["user_id"], call.path["factor_id"])
    return success("User's MFA factor successfully reset")


@router.operation(
    "PUT",
    "/users/{user_id}/password",
    scope="update:user_passwords",
    operation_id="SetUserPassword",
    body=True,
)
def set_user_password(call: Call) -> dict[str, Any]:
    service.set_password(call.ctx.storage, call.ctx.clock, call.path["user_id"], call.json())
    return success("User password successfully set")


@router.operation(
    "POST",
    "/users/{user_id}/refresh_claims",
    scope="update:user_refresh_claims",
    operation_id="refreshUserClaims",
)
def refresh_user_claims(call: Call) -> dict[str, Any]:
    service.refresh_claims(call.ctx.storage, call.path["user_id"])
    return success("Claims successfully refreshed")


# The Identities operations are served from this module too (app.py lists ``router``).
router.operations.extend(identities_router.operations)
