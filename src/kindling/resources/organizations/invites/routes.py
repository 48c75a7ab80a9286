"""Organization invites: ``/organization/{org_code}/invites`` (note: singular)."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.pagination import keyset_page
from kindling.platform.params import NEXT_TOKEN, PAGE_SIZE, Query
from kindling.platform.render import compact, paged, success
from kindling.resources.organizations.invites import service

router = Router("Organizations")
_NULLABLE = ("first_name", "last_name", "accepted_on")
SORT = Query.enum("sort", service.SORTS, default="created_on_asc")
INCLUDE_REVOKED = Query.boolean("include_revoked", default=False)
INCLUDE_ACCEPTED = Query.boolean("include_accepted", default=False)


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
    query=(SORT, PAGE_SIZE, NEXT_TOKEN, INCLUDE_REVOKED, INCLUDE_ACCEPTED),
)
def get_organization_invites(call: Call) -> dict[str, Any]:
    storage, org_code = call.ctx.storage, call.path["org_code"]
    revoked, accepted = call.param(INCLUDE_REVOKED), call.param(INCLUDE_ACCEPTED)
    views, token = keyset_page(
        call.ctx.cursors,
        f"invites|{org_code}|{revoked}|{accepted}",
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        sort=call.param(SORT),
        by_sort=lambda sort, after, size: service.list_invites(
            storage, org_code, sort, after, size, revoked, accepted
        ),
    )
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
