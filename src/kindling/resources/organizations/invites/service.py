"""Organization invitations.

An invite names an email, optional first and last name, and the keys of the roles
the invitee gets on acceptance (each must exist when the invite is created). Kindling
sends no email, so ``is_sent`` stays false. Deleting an invite revokes it (Kinde's
"Revoke (delete) an invitation"): it remains readable by code with ``is_revoked``
true and drops out of the default listing, which shows pending invites only.

Creating an invite records ``organization.invite_created`` and revoking a pending one
``organization.invite_revoked``, in the transaction of the change (see
``kindling.platform.event_types``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import Body, decode_body
from kindling.platform.codes import Code
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import invite_code
from kindling.platform.pagination import page
from kindling.platform.storage import Storage
from kindling.platform.validation import optional_bool, optional_text
from kindling.resources.organizations.invites.model import Invite
from kindling.resources.organizations.invites.repository import INVITES_REPO
from kindling.resources.users.service import validate_email

NAME_MAX = 64
ROLE_KEY_MAX = 255
MAX_ROLES = 100
SORTS = (
    "created_on_asc",
    "created_on_desc",
    "email_asc",
    "email_desc",
    "name_asc",
    "name_desc",
)


@dataclass(frozen=True)
class InviteView:
    """An invite with the names of its roles (roles deleted since are absent)."""

    invite: Invite
    role_names: dict[str, str]


class InviteBody(Body, frozen=True):
    """Kinde's ``POST /organization/{org_code}/invites`` body."""

    email: object = None
    first_name: object = None
    last_name: object = None
    roles: object = None
    #: Accepted and checked, but Kindling sends no email.
    send_email: object = None


def _roles(value: Any) -> tuple[str, ...]:
    if value is None:
        raise ValidationError("roles is required", Code.ROLES_REQUIRED)
    if not isinstance(value, list):
        raise ValidationError("roles must be a list of role keys", Code.INVALID_ROLES)
    if len(value) > MAX_ROLES:
        raise ValidationError(f"at most {MAX_ROLES} roles per invite", Code.TOO_MANY_ROLES)
    keys: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > ROLE_KEY_MAX:
            raise ValidationError("each role must be a role key", Code.INVALID_ROLES)
        key = item.strip()
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def create_invite(storage: Storage, clock: Clock, org_code: str, body: Any) -> InviteView:
    """Kinde's ``POST /organization/{org_code}/invites``; all or nothing."""
    if not isinstance(body, dict):  # an omitted body too: ``email`` and ``roles`` are required
        raise ValidationError("the request body must be a JSON object", Code.INVALID_BODY)
    data = decode_body(body, InviteBody)
    email = validate_email(data.email)
    first = optional_text(data.first_name, "first_name", NAME_MAX, "FIRST_NAME")
    last = optional_text(data.last_name, "last_name", NAME_MAX, "LAST_NAME")
    keys = _roles(data.roles)
    optional_bool(data.send_email, "send_email")
    invite = Invite(
        code=invite_code(),
        org_code=org_code,
        email=email,
        first_name=first,
        last_name=last,
        role_keys=keys,
        created_on=isoformat(clock.now()),
    )
    try:
        with storage.transaction() as uow:
            if not uow[INVITES_REPO].organization_exists(org_code):
                raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
            names = uow[INVITES_REPO].role_names(keys)
            missing = [k for k in keys if k not in names]
            if missing:
                raise NotFound(f"Role not found: {missing[0]}", Code.ROLE_NOT_FOUND)
            uow[INVITES_REPO].add(invite)
            uow.record(
                EventType.ORGANIZATION_INVITE_CREATED,
                {
                    "organization": {"code": org_code},
                    "invite": {
                        "code": invite.code,
                        "email": invite.email,
                        "first_name": invite.first_name,
                        "last_name": invite.last_name,
                        "roles": list(invite.role_keys),
                    },
                },
            )
    except IntegrityViolation:
        raise AlreadyExists("The invite could not be stored", Code.INVITE_CONFLICT) from None
    return InviteView(invite, names)


def get_invite(storage: Storage, org_code: str, code: str) -> InviteView:
    with storage.read() as uow:
        if not uow[INVITES_REPO].organization_exists(org_code):
            raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
        invite = uow[INVITES_REPO].get(org_code, code)
        if invite is None:
            raise NotFound("Invite not found", Code.INVITE_NOT_FOUND)
        names = uow[INVITES_REPO].role_names(invite.role_keys)
    return InviteView(invite, names)


def revoke_invite(storage: Storage, org_code: str, code: str) -> None:
    """Revoke the invite; revoking a revoked one succeeds and records nothing more."""
    with storage.transaction() as uow:
        if not uow[INVITES_REPO].organization_exists(org_code):
            raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
        current = uow[INVITES_REPO].get(org_code, code)
        if not uow[INVITES_REPO].revoke(org_code, code):
            raise NotFound("Invite not found", Code.INVITE_NOT_FOUND)
        if current is not None and not current.is_revoked:
            uow.record(
                EventType.ORGANIZATION_INVITE_REVOKED,
                {"organization": {"code": org_code}, "invite": {"code": code}},
            )


def list_invites(
    storage: Storage,
    org_code: str,
    sort: str,
    after: tuple[str, int] | None,
    size: int,
    include_revoked: bool,
    include_accepted: bool,
) -> tuple[list[InviteView], tuple[str, int] | None]:
    """One keyset page of the organization's invites; ``sort`` is one of ``SORTS``."""
    field, _, direction = sort.rpartition("_")
    with storage.read() as uow:
        if not uow[INVITES_REPO].organization_exists(org_code):
            raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
        rows = uow[INVITES_REPO].list_page(
            org_code,
            field,
            direction == "desc",
            after,
            size + 1,
            include_revoked,
            include_accepted,
        )
        invites, cursor = page(rows, size)
        keys = sorted({k for i in invites for k in i.role_keys})
        names = uow[INVITES_REPO].role_names(keys)
    views = [InviteView(i, {k: names[k] for k in i.role_keys if k in names}) for i in invites]
    return views, cursor
