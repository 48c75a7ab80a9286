"""Organization invites: ``/organization/{org_code}/invites`` (note: singular)."""

from typing import Any

from kindling.platform.codes import Code, derived
from kindling.platform.errors import ValidationError
from kindling.platform.operations import Call, Param, Router
from kindling.platform.pagination import parse_page_size
from kindling.platform.render import compact, paged, success
from kindling.resources.organizations.invites import service

router = Router("Organizations")
_NULLABLE = ("first_name", "last_name", "accepted_on")


def _bool(call: Call, name: str) -> bool:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ValidationError(f"{name} must be true or false", derived(f"INVALID_{name.upper()}"))


def invite_json(view: service.InviteView, issuer: str) -> dict[str, Any]:
    invite = view.invite
    full_name = " ".join(n for n in (invite.first_name, invite.last_name) if n)
    return compact(
        {
            "id": invite.code,
            "code": invite.code,
            "email": invite.email,
            "first_name": invite.first_name,
            "last_name": invite.last_name,
            "full_name": full_name,
            "created_on": invite.created_on,
            "is_sent": invite.is_sent,
            "accepted_on": invite.accepted_on,
            "roles": [
                compact({"key": key, "name": view.role_names.get(key)}) for key in invite.role_keys
            ],
            "is_revoked": invite.is_revoked,
            "invite_link": f"{issuer}/team_invitation?code={invite.code}",
        },
        _NULLABLE,
    )


@router.operation(
    "GET",
    "/organization/{org_code}/invites",
    scope="read:organization_invites",
    operation_id="getOrganizationInvites",
    query=(
        Param("sort"),
        Param("page_size", "integer"),
        Param("next_token"),
        Param("include_revoked", "boolean"),
        Param("include_accepted", "boolean"),
    ),
)
def get_organization_invites(call: Call) -> dict[str, Any]:
    org_code = call.path["org_code"]
    sort = call.query.get("sort") or "created_on_asc"
    if sort not in service.SORTS:
        raise ValidationError("sort must be one of " + ", ".join(service.SORTS), Code.INVALID_SORT)
    size = parse_page_size(call.query.get("page_size"))
    revoked = _bool(call, "include_revoked")
    accepted = _bool(call, "include_accepted")
    listing = f"invites|{org_code}|{sort}|{revoked}|{accepted}"
    cursors = call.ctx.cursors
    after = cursors.decode_keyed(listing, call.query.get("next_token"))
    views, cursor = service.list_invites(
        call.ctx.storage, org_code, sort, after, size, revoked, accepted
    )
    token = None if cursor is None else cursors.encode(listing, cursor)
    issuer = call.ctx.issuer()
    return paged("invites", [invite_json(v, issuer) for v in views], token)


@router.operation(
    "POST",
    "/organization/{org_code}/invites",
    scope="create:organization_invites",
    status=201,
    operation_id="createOrganizationInvite",
    body=True,
)
def create_organization_invite(call: Call) -> dict[str, Any]:
    view = service.create_invite(
        call.ctx.storage, call.ctx.clock, call.path["org_code"], call.json()
    )
    return success(
        "Invitation created", "INVITATION_CREATED", invite=invite_json(view, call.ctx.issuer())
    )


@router.operation(
    "GET",
    "/organization/{org_code}/invites/{invite_code}",
    scope="read:organization_invites",
    operation_id="getOrganizationInvite",
    errors=(404,),
)
def get_organization_invite(call: Call) -> dict[str, Any]:
    view = service.get_invite(call.ctx.storage, call.path["org_code"], call.path["invite_code"])
    return {"message": "Success", **invite_json(view, call.ctx.issuer())}


@router.operation(
    "DELETE",
    "/organization/{org_code}/invites/{invite_code}",
    scope="delete:organization_invites",
    operation_id="deleteOrganizationInvite",
    errors=(404,),
)
def delete_organization_invite(call: Call) -> dict[str, Any]:
    service.revoke_invite(call.ctx.storage, call.path["org_code"], call.path["invite_code"])
    return success("Invitation successfully revoked")
