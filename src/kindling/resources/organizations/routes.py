"""Organizations: the organization itself, its handle, logos, policies and connections."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.multipart import multipart_fields
from kindling.platform.operations import Call, Router
from kindling.platform.pagination import keyset_page
from kindling.platform.params import NEXT_TOKEN, PAGE_SIZE, Query
from kindling.platform.render import compact, paged, success
from kindling.resources.connections.model import Connection
from kindling.resources.organizations import service
from kindling.resources.organizations.model import Organization, OrganizationLogo

router = Router("Organizations")
SORTS = ("name_asc", "name_desc", "email_asc", "email_desc")
#: Kinde refuses a blank ``sort`` here (``INVALID_SORT``), unlike the role listings.
SORT = Query.enum("sort", SORTS, blank_is_absent=False)
EXPAND = Query.expand({"billing"})
CODE = Query.string("code", required=True)
#: Nullable fields of ``get_organization_response``: shown as null rather than omitted.
_NULLABLE = (
    "handle",
    "external_id",
    "logo",
    "logo_dark",
    "favicon_svg",
    "favicon_fallback",
    *service.COLOR_FIELDS,
    "button_border_radius",
    "card_border_radius",
    "input_border_radius",
    "is_allow_registrations",
    "sender_name",
    "sender_email",
    "suspended_on",
)


# --- shapes -------------------------------------------------------------------------


def list_item(org: Organization) -> dict[str, Any]:
    return compact(
        {
            "code": org.code,
            "name": org.name,
            "handle": org.handle,
            "is_default": org.is_default,
            "external_id": org.external_id,
            "is_auto_membership_enabled": org.settings.is_auto_membership_enabled,
        },
        ("handle", "external_id"),
    )


def _logo_cache(logo: OrganizationLogo) -> str:
    return hashlib.sha256(f"{logo.org_code}|{logo.type}|{logo.created_on}".encode()).hexdigest()[
        :32
    ]


def logo_path(logo: OrganizationLogo) -> str:
    """Kinde's logo address: ``/logo?org_code=…&cache=…`` (``/logo_dark`` for dark)."""
    route = "/logo" if logo.type == "light" else "/logo_dark"
    return f"{route}?org_code={quote(logo.org_code)}&cache={_logo_cache(logo)}"


def _file_name(logo: OrganizationLogo) -> str:
    ext = {
        "image/png": "png",
        "image/jpeg": "jpg",
        "image/gif": "gif",
        "image/webp": "webp",
        "image/svg+xml": "svg",
    }.get(logo.content_type, "bin")
    return f"logo{'' if logo.type == 'light' else '_dark'}.{ext}"


def detail(call: Call, view: service.OrganizationView, expand: frozenset[str]) -> dict[str, Any]:
    org = view.organization
    s = org.settings
    logos = {logo.type: call.ctx.issuer() + logo_path(logo) for logo in view.logos}
    body: dict[str, Any] = {
        "code": org.code,
        "name": org.name,
        "handle": org.handle,
        "is_default": org.is_default,
        "external_id": org.external_id,
        "is_auto_membership_enabled": s.is_auto_membership_enabled,
        "logo": logos.get("light"),
        "logo_dark": logos.get("dark"),
        "favicon_svg": None,
        "favicon_fallback": None,
        "allowed_domains": list(s.allowed_domains),
    }
    for field in service.COLOR_FIELDS:
        raw = getattr(s, field)
        if raw is None:
            body[field] = None
        else:
            parts = service.color_parts(raw)
            body[field] = {"raw": parts.raw, "hex": parts.hex, "hsl": parts.hsl}
    body.update(
        {
            "button_border_radius": None,
            "card_border_radius": None,
            "input_border_radius": None,
            "theme_code": s.theme_code,
            "color_scheme": service.color_scheme(s.theme_code),
            "created_on": org.created_on,
            "is_allow_registrations": s.is_auto_membership_enabled,
            "sender_name": s.sender_name,
            "sender_email": s.sender_email,
            "is_suspended": org.is_suspended,
            "suspended_on": s.suspended_on,
        }
    )
    if "billing" in expand:
        body["billing"] = {"agreements": []}
    return compact(body, _NULLABLE)


def connection_item(connection: Connection) -> dict[str, Any]:
    """A connection as listed: Kinde's flat fields, and the spec's nested ``connection``."""
    fields = compact(
        {
            "id": connection.id,
            "name": connection.name,
            "display_name": connection.display_name,
            "strategy": connection.strategy,
        }
    )
    return {**fields, "connection": dict(fields)}


# --- operations -----------------------------------------------------------------------


@router.operation(
    "GET",
    "/organization",
    scope="read:organizations",
    operation_id="getOrganization",
    query=(CODE, EXPAND),
)
def get_organization(call: Call) -> dict[str, Any]:
    view = service.get_organization(call.ctx.storage, call.param(CODE))
    return detail(call, view, call.param(EXPAND))


@router.operation(
    "POST",
    "/organization",
    scope="create:organizations",
    operation_id="createOrganization",
    body=True,
)
def create_organization(call: Call) -> dict[str, Any]:
    org = service.create_organization(call.ctx.storage, call.ctx.clock, call.json())
    return success("Success", "OK", organization={"code": org.code})


@router.operation(
    "GET",
    "/organizations",
    scope="read:organizations",
    operation_id="getOrganizations",
    query=(SORT, PAGE_SIZE, NEXT_TOKEN),
)
def get_organizations(call: Call) -> dict[str, Any]:
    storage = call.ctx.storage
    orgs, token = keyset_page(
        call.ctx.cursors,
        "organizations",
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        sort=call.param(SORT),
        by_sequence=lambda after, size: service.list_organizations(storage, after, size),
        # Organizations have no email of their own: the email sorts order by name.
        by_sort=lambda sort, after, size: service.list_organizations_by_name(
            storage, after, size, sort.endswith("_desc")
        ),
    )
    return paged("organizations", [list_item(o) for o in orgs], token)


@router.operation(
    "PATCH",
    "/organization/{org_code}",
    scope="update:organizations",
    operation_id="updateOrganization",
    query=(EXPAND,),
    body=True,
)
def update_organization(call: Call) -> dict[str, Any]:
    # ``expand`` is checked (INVALID_EXPAND) but changes nothing in the answer.
    service.update_organization(
        call.ctx.storage, call.ctx.clock, call.path["org_code"], call.json(required=False)
    )
    return success("Organization successfully updated", "ORGANIZATION_UPDATED")


@router.operation(
    "DELETE",
    "/organization/{org_code}",
    scope="delete:organizations",
    operation_id="deleteOrganization",
    errors=(404,),
)
def delete_organization(call: Call) -> dict[str, Any]:
    service.delete_organization(call.ctx.storage, call.path["org_code"])
    return success("Organization successfully deleted", "ORGANIZATION_DELETED")


@router.operation(
    "DELETE",
    "/organization/{org_code}/handle",
    scope="delete:organization_handles",
    operation_id="DeleteOrganizationHandle",
)
def delete_organization_handle(call: Call) -> dict[str, Any]:
    service.delete_handle(call.ctx.storage, call.path["org_code"])
    return success("Handle successfully deleted", "HANDLE_DELETED")


@router.operation(
    "GET",
    "/organizations/{org_code}/logos",
    scope="read:organizations",
    operation_id="ReadOrganizationLogo",
)
def read_organization_logo(call: Call) -> dict[str, Any]:
    logos = service.list_logos(call.ctx.storage, call.path["org_code"])
    items = [
        {"type": logo.type, "file_name": _file_name(logo), "path": logo_path(logo)}
        for logo in logos
    ]
    return success("Success", "OK", logos=items)


@router.operation(
    "POST",
    "/organizations/{org_code}/logos/{type}",
    scope="update:organizations",
    operation_id="AddOrganizationLogo",
    body=True,
)
def add_organization_logo(call: Call) -> dict[str, Any]:
    type_ = call.path["type"]
    if type_ not in service.LOGO_TYPES:
        raise ValidationError("the logo type must be light or dark", Code.INVALID_LOGO_TYPE)
    fields = multipart_fields(call.headers.get("content-type"), call.raw_body)
    if "logo" not in fields:
        raise ValidationError("logo is required", Code.LOGO_REQUIRED)
    service.set_logo(call.ctx.storage, call.ctx.clock, call.path["org_code"], type_, fields["logo"])
    return success("Organization logo successfully updated", "LOGO_UPDATED")


@router.operation(
    "DELETE",
    "/organizations/{org_code}/logos/{type}",
    scope="update:organizations",
    operation_id="DeleteOrganizationLogo",
)
def delete_organization_logo(call: Call) -> dict[str, Any]:
    # Kinde answers 204 when there is no logo; one status per operation here, so 200 says so.
    if service.delete_logo(call.ctx.storage, call.path["org_code"], call.path["type"]):
        return success("Organization logo successfully deleted", "LOGO_DELETED")
    return success("No logo found to delete", "NO_LOGO_FOUND")


@router.operation(
    "PATCH",
    "/organizations/{org_code}/sessions",
    scope="update:organizations",
    operation_id="UpdateOrganizationSessions",
    body=True,
)
def update_organization_sessions(call: Call) -> dict[str, Any]:
    service.update_sessions(call.ctx.storage, call.path["org_code"], call.json())
    return success("Organization sessions successfully updated", "SESSIONS_UPDATED")


@router.operation(
    "PUT",
    "/organizations/{org_code}/mfa",
    scope="update:organization_mfa",
    operation_id="ReplaceOrganizationMFA",
    body=True,
)
def replace_organization_mfa(call: Call) -> dict[str, Any]:
    service.replace_mfa(call.ctx.storage, call.path["org_code"], call.json())
    return success("MFA configuration successfully updated", "MFA_UPDATED")


def _passkey(settings: service.PasskeySettings, with_environment: bool) -> dict[str, Any]:
    body = success("Success", "OK")
    body.update(
        enabled=settings.enabled,
        policy=settings.policy,
        is_override_environment_passkey_settings=settings.is_override,
    )
    if with_environment:
        body["environment_policy"] = settings.environment_policy
    return body


@router.operation(
    "GET",
    "/organizations/{org_code}/passkey",
    scope="read:organization_passkey",
    operation_id="GetOrganizationPasskey",
)
def get_organization_passkey(call: Call) -> dict[str, Any]:
    return _passkey(service.get_passkey(call.ctx.storage, call.path["org_code"]), True)


@router.operation(
    "PUT",
    "/organizations/{org_code}/passkey",
    scope="update:organization_passkey",
    operation_id="UpdateOrganizationPasskey",
    body=True,
)
def update_organization_passkey(call: Call) -> dict[str, Any]:
    settings = service.update_passkey(call.ctx.storage, call.path["org_code"], call.json())
    return _passkey(settings, False)


@router.operation(
    "GET",
    "/organizations/{organization_code}/connections",
    scope="read:organization_connections",
    operation_id="GetOrganizationConnections",
)
def get_organization_connections(call: Call) -> dict[str, Any]:
    found = service.list_connections(call.ctx.storage, call.path["organization_code"])
    return success("Success", "OK", connections=[connection_item(c) for c in found], has_more=False)


@router.operation(
    "POST",
    "/organizations/{organization_code}/connections/{connection_id}",
    scope="create:organization_connections",
    operation_id="EnableOrgConnection",
    no_body=True,
)
def enable_org_connection(call: Call) -> None:
    """The spec's 200 has no body, so none is sent (the SDKs read none)."""
    service.set_connection(
        call.ctx.storage, call.path["organization_code"], call.path["connection_id"], True
    )


@router.operation(
    "DELETE",
    "/organizations/{organization_code}/connections/{connection_id}",
    scope="delete:organization_connections",
    operation_id="RemoveOrgConnection",
)
def remove_org_connection(call: Call) -> dict[str, Any]:
    service.set_connection(
        call.ctx.storage, call.path["organization_code"], call.path["connection_id"], False
    )
    return success("Connection successfully removed", "CONNECTION_REMOVED")
