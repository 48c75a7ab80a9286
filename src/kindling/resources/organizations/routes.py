"""Organizations: the organization itself, its handle, logos, policies and connections."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.operations import Call, Param, Router
from kindling.platform.pagination import parse_page_size
from kindling.platform.render import compact, paged, success
from kindling.resources.organizations import service
from kindling.resources.organizations.model import Connection, Organization, OrganizationLogo

router = Router("Organizations")
SORTS = ("name_asc", "name_desc", "email_asc", "email_desc")
EXPANSIONS = frozenset({"billing"})
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


def _expand(call: Call) -> set[str]:
    raw = call.query.get("expand") or ""
    wanted = {p.strip() for p in raw.split(",") if p.strip()}
    if wanted - EXPANSIONS:
        raise ValidationError("expand accepts billing", Code.INVALID_EXPAND)
    return wanted


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


def detail(call: Call, view: service.OrganizationView, expand: set[str]) -> dict[str, Any]:
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


# --- multipart/form-data --------------------------------------------------------------

_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _params(header: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in _PARAM.findall(header):
        value = value.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found[name.lower()] = value
    return found


def _boundary(content_type: str | None, body: bytes) -> bytes:
    if content_type:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "multipart/form-data":
            raise ValidationError(
                "the request body must be multipart/form-data", Code.INVALID_CONTENT_TYPE
            )
        boundary = _params(content_type).get("boundary")
        if boundary:
            return boundary.encode("latin-1")
    # No header parameter: the body's first line is the delimiter ("--boundary").
    first = body.split(b"\r\n", 1)[0].split(b"\n", 1)[0].rstrip()
    if first.startswith(b"--") and len(first) > 2:
        return first[2:]
    raise ValidationError("the multipart boundary is missing", Code.INVALID_MULTIPART)


def multipart_fields(content_type: str | None, body: bytes) -> dict[str, bytes]:
    """Parse a ``multipart/form-data`` body into ``{field name: bytes}``.

    Repeated or unnamed fields are refused; a malformed body is a 400, never a 500.
    """
    boundary = _boundary(content_type, body)
    if len(boundary) > 200:
        raise ValidationError("the multipart boundary is too long", Code.INVALID_MULTIPART)
    delimiter = b"--" + boundary
    if not body.startswith(delimiter):
        start = body.find(b"\r\n" + delimiter)
        if start < 0:
            raise ValidationError("the multipart body is malformed", Code.INVALID_MULTIPART)
        body = body[start + 2 :]
    fields: dict[str, bytes] = {}
    position = len(delimiter)
    while True:
        if body[position : position + 2] == b"--":
            return fields
        line_end = body.find(b"\r\n", position)
        if line_end < 0 or body[position:line_end].strip(b" \t"):
            raise ValidationError("the multipart body is malformed", Code.INVALID_MULTIPART)
        headers_end = body.find(b"\r\n\r\n", line_end)
        if headers_end < 0:
            raise ValidationError("the multipart body is malformed", Code.INVALID_MULTIPART)
        headers: dict[str, str] = {}
        for raw in body[line_end + 2 : headers_end].split(b"\r\n"):
            key, sep, value = raw.decode("latin-1").partition(":")
            if not sep:
                raise ValidationError("the multipart body is malformed", Code.INVALID_MULTIPART)
            headers[key.strip().lower()] = value.strip()
        content_end = body.find(b"\r\n" + delimiter, headers_end + 4)
        if content_end < 0:
            raise ValidationError("the multipart body is malformed", Code.INVALID_MULTIPART)
        disposition = headers.get("content-disposition", "")
        if not disposition.lower().startswith("form-data"):
            raise ValidationError("a multipart part is not form-data", Code.INVALID_MULTIPART)
        name = _params(disposition).get("name")
        if not name:
            raise ValidationError("a multipart part has no name", Code.INVALID_MULTIPART)
        if name in fields:
            raise ValidationError(f"the field {name} is repeated", Code.REPEATED_PARAMETER)
        fields[name] = body[headers_end + 4 : content_end]
        position = content_end + 2 + len(delimiter)


# --- operations -----------------------------------------------------------------------


@router.operation(
    "GET",
    "/organization",
    scope="read:organizations",
    operation_id="getOrganization",
    query=(Param("code", required=True), Param("expand")),
)
def get_organization(call: Call) -> dict[str, Any]:
    expand = _expand(call)
    return detail(call, service.get_organization(call.ctx.storage, call.query.get("code")), expand)


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
    query=(Param("sort"), Param("page_size", "integer"), Param("next_token")),
)
def get_organizations(call: Call) -> dict[str, Any]:
    sort = call.query.get("sort")
    if sort is not None and sort not in SORTS:
        raise ValidationError(
            "sort must be name_asc, name_desc, email_asc or email_desc", Code.INVALID_SORT
        )
    size = parse_page_size(call.query.get("page_size"))
    cursors, token_in = call.ctx.cursors, call.query.get("next_token")
    token: str | None = None
    if sort is None:
        orgs, cursor = service.list_organizations(
            call.ctx.storage, cursors.decode("organizations", token_in), size
        )
        token = None if cursor is None else cursors.encode("organizations", cursor)
    else:
        # Organizations have no email of their own: the email sorts order by name.
        listing = f"organizations|{sort}"
        orgs, keyed = service.list_organizations_by_name(
            call.ctx.storage, cursors.decode_keyed(listing, token_in), size, sort.endswith("_desc")
        )
        token = None if keyed is None else cursors.encode(listing, keyed)
    return paged("organizations", [list_item(o) for o in orgs], token)


@router.operation(
    "PATCH",
    "/organization/{org_code}",
    scope="update:organizations",
    operation_id="updateOrganization",
    query=(Param("expand"),),
    body=True,
)
def update_organization(call: Call) -> dict[str, Any]:
    _expand(call)
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
)
def enable_org_connection(call: Call) -> dict[str, Any]:
    service.set_connection(
        call.ctx.storage, call.path["organization_code"], call.path["connection_id"], True
    )
    return success("Connection successfully enabled", "CONNECTION_ENABLED")


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
