"""The console's pages: each one reads or changes data through ``kindling.services``."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from kindling.clock import isoformat
from kindling.platform.codes import Code
from kindling.platform.errors import NotFound, ValidationError
from kindling.platform.pagination import parse_page_size
from kindling.platform.signing import DEFAULT_PUBLISH_DELAY, MAX_PUBLISH_DELAY
from kindling.resources.admin import service as admin
from kindling.resources.apis import service as apis
from kindling.resources.applications import service as applications
from kindling.resources.applications import tokens
from kindling.resources.organizations import service as organizations
from kindling.resources.organizations.members import service as memberships
from kindling.resources.permissions import service as permissions
from kindling.resources.roles import service as roles
from kindling.resources.signing_keys import service as signing_keys
from kindling.resources.users import service as users
from kindling.web import postman
from kindling.web.console.app import Page, PageHandler
from kindling.web.console.audit import ROUTES as AUDIT_ROUTES
from kindling.web.console.webhooks import ROUTES as WEBHOOK_ROUTES
from kindling.web.openapi import build_document

PAGE_SIZE = 20
SECRET_NOTICE = "Copy the client secret now: it is shown only once."


# --- helpers -------------------------------------------------------------------------


def _cursor(page: Page, listing: str) -> int | None:
    return page.ctx.cursors.decode(listing, page.query.get("after") or None)


def _keyed_cursor(page: Page, listing: str) -> tuple[str, int] | None:
    return page.ctx.cursors.decode_keyed(listing, page.query.get("after") or None)


def _next_link(
    page: Page, listing: str, position: int | tuple[str, int] | None, **params: str
) -> str | None:
    if position is None:
        return None
    query = {k: v for k, v in params.items() if v}
    query["after"] = page.ctx.cursors.encode(listing, position)
    return f"{page.path}?{urlencode(query)}"


def _page_size(page: Page) -> int:
    return parse_page_size(page.query.get("page_size") or str(PAGE_SIZE))


def _decode_segment(segment: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT we just signed (display only; nothing is trusted)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}, {}
    return _decode_segment(parts[0]), _decode_segment(parts[1])


def _duration(seconds: int) -> str:
    if seconds >= 7200:
        return f"{seconds // 3600} hours"
    if seconds >= 120:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"


@dataclass(frozen=True)
class Snippet:
    id: str
    label: str
    language: str
    code: str


def snippets(
    issuer: str, audience: str, token: str, client_id: str, management: bool
) -> list[Snippet]:
    """Copyable examples that use the token (and one that gets a fresh token)."""
    url = f"{issuer}/api/v1/users" if management else audience
    items = [
        Snippet(
            "curl",
            "curl",
            "shell",
            f"curl -s {url} \\\n"
            f'  -H "Authorization: Bearer {token}" \\\n'
            '  -H "Accept: application/json"',
        )
    ]
    if management:
        items.append(
            Snippet(
                "python",
                "Python (official SDK)",
                "python",
                "# pip install kinde-python-sdk\n"
                "from kinde_sdk.management import ApiClient, Configuration, UsersApi\n\n"
                f'configuration = Configuration(host="{issuer}", access_token="{token}")\n'
                "with ApiClient(configuration) as api_client:\n"
                "    users = UsersApi(api_client).get_users()\n"
                "    print(users)\n",
            )
        )
    else:
        items.append(
            Snippet(
                "python",
                "Python",
                "python",
                "import urllib.request\n\n"
                "request = urllib.request.Request(\n"
                f'    "{url}", headers={{"Authorization": "Bearer {token}"}}\n'
                ")\n"
                "with urllib.request.urlopen(request) as response:\n"
                "    print(response.status, response.read().decode())\n",
            )
        )
    items.append(
        Snippet(
            "javascript",
            "JavaScript (fetch)",
            "javascript",
            f'const response = await fetch("{url}", {{\n'
            f'  headers: {{ Authorization: "Bearer {token}", Accept: "application/json" }},\n'
            "});\n"
            "console.log(response.status, await response.json());\n",
        )
    )
    items.append(
        Snippet(
            "token",
            "Get a token yourself (curl)",
            "shell",
            f"curl -s -X POST {issuer}/oauth2/token \\\n"
            "  -d grant_type=client_credentials \\\n"
            f"  -d client_id={client_id} \\\n"
            '  -d client_secret="$CLIENT_SECRET" \\\n'
            f"  -d audience={audience}",
        )
    )
    return items


# --- applications ------------------------------------------------------------------------


def applications_list(page: Page) -> Response:
    size = _page_size(page)
    items, position = applications.list_applications(
        page.ctx.storage, _cursor(page, "console-apps"), size
    )
    return page.render(
        "applications.html",
        "applications",
        "Applications",
        applications=items,
        next_link=_next_link(page, "console-apps", position),
    )


def application_create(page: Page) -> Response:
    created = applications.create_application(
        page.ctx.storage, page.ctx.hasher, page.ctx.clock, page.value("name"), "m2m"
    )
    return _application_page(page, created.application.id, secret=created.client_secret)


def _application_page(page: Page, application_id: str, secret: str | None = None) -> Response:
    app = applications.get_application(page.ctx.storage, application_id)
    domain = page.issuer.split("://", 1)[-1]
    return page.render(
        "application.html",
        "applications",
        app.name,
        app=app,
        tab="details",
        domain=domain,
        secret=secret,
        secret_notice=SECRET_NOTICE if secret else None,
        canonical=f"/admin/applications/{app.id}" if secret else None,
    )


def application_view(page: Page) -> Response:
    return _application_page(page, page.path_params["app_id"])


def application_rotate(page: Page) -> Response:
    app_id = page.path_params["app_id"]
    grace = 0 if page.value("revoke_old") == "1" else applications.DEFAULT_GRACE
    secret, _ = applications.rotate_secret(
        page.ctx.storage, page.ctx.hasher, page.ctx.clock, app_id, grace
    )
    return _application_page(page, app_id, secret=secret)


def application_delete(page: Page) -> Response:
    app = applications.get_application(page.ctx.storage, page.path_params["app_id"])
    applications.delete_application(page.ctx.storage, app.id)
    return page.redirect("/admin/applications", f"Deleted the application {app.name}.")


def application_apis(page: Page) -> Response:
    app = applications.get_application(page.ctx.storage, page.path_params["app_id"])
    access = admin.application_api_access(page.ctx.storage, app.id)
    return page.render(
        "application_apis.html",
        "applications",
        f"{app.name} · APIs",
        app=app,
        tab="apis",
        access=access,
    )


def application_api_update(page: Page) -> Response:
    app_id = page.path_params["app_id"]
    api_id = page.path_params["api_id"]
    action = page.value("action")
    if action not in ("authorize", "save", "revoke"):
        raise ValidationError("unknown action", Code.INVALID_ACTION)
    authorized = action != "revoke"
    admin.set_application_api_access(
        page.ctx.storage, page.ctx.clock, app_id, api_id, authorized, page.values("scope")
    )
    message = {
        "authorize": "Authorized the application for the API.",
        "save": "Saved the granted scopes.",
        "revoke": "Revoked the application's access to the API.",
    }[action]
    return page.redirect(f"/admin/applications/{app_id}/apis#api-{api_id}", message)


# --- test: get a token, use it in the API docs ---------------------------------------


def test_page(page: Page) -> Response:
    candidates = admin.token_candidates(page.ctx.storage)
    chosen = page.value("app") or (candidates[0].application.id if candidates else "")
    selected = next((c for c in candidates if c.application.id == chosen), None)
    return page.render(
        "test.html",
        "test",
        "Test",
        candidates=candidates,
        selected=selected,
        result=None,
    )


def test_get_token(page: Page) -> Response:
    app_id = page.value("app")
    audience = page.value("audience")
    if not app_id or not audience:
        raise ValidationError("choose an application and an API", Code.APPLICATION_REQUIRED)
    app = applications.get_application(page.ctx.storage, app_id)
    body = tokens.mint_token(page.ctx, app_id, [audience], [])
    token = str(body["access_token"])
    header, claims = decode_jwt(token)
    management = audience == apis.management_audience(page.issuer)
    exp = int(claims.get("exp", 0))
    candidates = admin.token_candidates(page.ctx.storage)
    selected = next((c for c in candidates if c.application.id == app_id), None)
    return page.render(
        "test.html",
        "test",
        "Test",
        candidates=candidates,
        selected=selected,
        result={
            "app": app,
            "audience": audience,
            "token": token,
            "header": json.dumps(header, indent=2),
            "claims": json.dumps(claims, indent=2, sort_keys=True),
            "scopes": str(body.get("scope") or ""),
            "expires_at": isoformat(exp) if exp else "",
            "expires_in": _duration(int(body.get("expires_in", 0))),
            "management": management,
            "snippets": snippets(page.issuer, audience, token, app.id, management),
        },
    )


def application_test(page: Page) -> Response:
    return page.redirect(f"/admin/test?app={page.path_params['app_id']}")


# --- APIs ------------------------------------------------------------------------------


def apis_list(page: Page) -> Response:
    items, position = apis.list_apis(page.ctx.storage, _keyed_cursor(page, "console-apis"), 100)
    return page.render(
        "apis.html",
        "apis",
        "APIs",
        apis=items,
        next_link=_next_link(page, "console-apis", position),
    )


def api_create(page: Page) -> Response:
    api = apis.create_api(
        page.ctx.storage, page.ctx.clock, page.value("name"), page.value("audience")
    )
    return page.redirect(f"/admin/apis/{api.id}", f"Registered the API {api.name}.")


def api_view(page: Page) -> Response:
    detail = apis.get_api(page.ctx.storage, page.path_params["api_id"])
    return page.render("api.html", "apis", detail.api.name, detail=detail)


def api_add_scope(page: Page) -> Response:
    api_id = page.path_params["api_id"]
    scope = apis.add_scope(
        page.ctx.storage, api_id, page.value("key"), page.value("description") or None
    )
    return page.redirect(f"/admin/apis/{api_id}", f"Added the scope {scope.key}.")


def api_delete_scope(page: Page) -> Response:
    api_id = page.path_params["api_id"]
    apis.delete_scope(page.ctx.storage, api_id, page.path_params["scope_id"])
    return page.redirect(f"/admin/apis/{api_id}", "Removed the scope.")


def api_delete(page: Page) -> Response:
    detail = apis.get_api(page.ctx.storage, page.path_params["api_id"])
    apis.delete_api(page.ctx.storage, detail.api.id)
    return page.redirect("/admin/apis", f"Deleted the API {detail.api.name}.")


# --- users ---------------------------------------------------------------------------


def users_list(page: Page) -> Response:
    email = page.value("email")
    listing_name = "console-users:" + email
    size = _page_size(page)
    found, position = users.list_users(
        page.ctx.storage, _cursor(page, listing_name), size, emails=email or None
    )
    return page.render(
        "users.html",
        "users",
        "Users",
        users=found,
        email=email,
        next_link=_next_link(page, listing_name, position, email=email),
        first_link=(
            page.path + (f"?{urlencode({'email': email})}" if email else "")
            if page.query.get("after")
            else None
        ),
    )


def user_create(page: Page) -> Response:
    profile = {
        "given_name": page.value("given_name") or None,
        "family_name": page.value("family_name") or None,
    }
    body: dict[str, Any] = {"profile": {k: v for k, v in profile.items() if v}}
    email = page.value("email")
    if email:
        body["identities"] = [{"type": "email", "details": {"email": email}}]
    user = users.create_user(page.ctx.storage, page.ctx.clock, body)
    return page.redirect(f"/admin/users/{user.id}", "Created the user.")


def user_view(page: Page) -> Response:
    user, orgs = users.get_user_with_organizations(page.ctx.storage, page.path_params["user_id"])
    return page.render("user.html", "users", user.email or user.id, user=user, organizations=orgs)


def user_update(page: Page) -> Response:
    user_id = page.path_params["user_id"]
    users.update_user(
        page.ctx.storage,
        user_id,
        {
            "given_name": page.value("given_name") or None,
            "family_name": page.value("family_name") or None,
            "is_suspended": page.value("is_suspended") == "1",
        },
    )
    return page.redirect(f"/admin/users/{user_id}", "Saved the user.")


def user_delete(page: Page) -> Response:
    users.delete_user(page.ctx.storage, page.path_params["user_id"])
    return page.redirect("/admin/users", "Deleted the user.")


# --- organizations ---------------------------------------------------------------------


def organizations_list(page: Page) -> Response:
    items, position = organizations.list_organizations(
        page.ctx.storage, _cursor(page, "console-orgs"), _page_size(page)
    )
    return page.render(
        "organizations.html",
        "organizations",
        "Organizations",
        organizations=items,
        next_link=_next_link(page, "console-orgs", position),
    )


def organization_create(page: Page) -> Response:
    org = organizations.create_organization(
        page.ctx.storage, page.ctx.clock, {"name": page.value("name")}
    )
    return page.redirect(f"/admin/organizations/{org.code}", f"Created {org.name}.")


def organization_view(page: Page) -> Response:
    code = page.path_params["org_code"]
    view = organizations.get_organization(page.ctx.storage, code)
    members, _ = memberships.list_members(page.ctx.storage, code, None, 500, "", False, [], [])
    return page.render(
        "organization.html",
        "organizations",
        view.organization.name,
        org=view.organization,
        members=members,
    )


def organization_delete(page: Page) -> Response:
    code = page.path_params["org_code"]
    organizations.delete_organization(page.ctx.storage, code)
    return page.redirect("/admin/organizations", "Deleted the organization.")


def _user_id_for(page: Page, value: str) -> str:
    if "@" not in value:
        return value
    found, _ = users.list_users(page.ctx.storage, None, 1, emails=value)
    if not found:
        raise NotFound(f"No user has the email {value}", Code.USER_NOT_FOUND)
    return found[0].id


def organization_add_member(page: Page) -> Response:
    code = page.path_params["org_code"]
    value = page.value("user")
    if not value:
        raise ValidationError("give a user id or email", Code.USER_REQUIRED)
    user_id = users.get_user(page.ctx.storage, _user_id_for(page, value)).id
    memberships.add_users(page.ctx.storage, page.ctx.clock, code, {"users": [{"id": user_id}]})
    return page.redirect(f"/admin/organizations/{code}", "Added the member.")


def organization_remove_member(page: Page) -> Response:
    code = page.path_params["org_code"]
    memberships.remove_user(page.ctx.storage, code, page.path_params["user_id"])
    return page.redirect(f"/admin/organizations/{code}", "Removed the member.")


# --- roles and permissions -----------------------------------------------------------


def roles_list(page: Page) -> Response:
    items, position = roles.list_roles(page.ctx.storage, _cursor(page, "console-roles"), 100)
    return page.render(
        "roles.html",
        "roles",
        "Roles",
        roles=items,
        next_link=_next_link(page, "console-roles", position),
    )


def role_create(page: Page) -> Response:
    role = roles.create_role(
        page.ctx.storage,
        page.ctx.clock,
        {
            "name": page.value("name"),
            "key": page.value("key"),
            "description": page.value("description") or None,
        },
    )
    return page.redirect("/admin/roles", f"Created the role {role.key}.")


def role_delete(page: Page) -> Response:
    roles.delete_role(page.ctx.storage, page.path_params["role_id"])
    return page.redirect("/admin/roles", "Deleted the role.")


def permissions_list(page: Page) -> Response:
    items, position = permissions.list_permissions(
        page.ctx.storage, _cursor(page, "console-permissions"), 100
    )
    return page.render(
        "permissions.html",
        "permissions",
        "Permissions",
        permissions=items,
        next_link=_next_link(page, "console-permissions", position),
    )


def permission_create(page: Page) -> Response:
    permission = permissions.create_permission(
        page.ctx.storage,
        page.ctx.clock,
        {
            "name": page.value("name"),
            "key": page.value("key"),
            "description": page.value("description") or None,
        },
    )
    return page.redirect("/admin/permissions", f"Created the permission {permission.key}.")


def permission_delete(page: Page) -> Response:
    permissions.delete_permission(page.ctx.storage, page.path_params["permission_id"])
    return page.redirect("/admin/permissions", "Deleted the permission.")


# --- signing keys, Postman ------------------------------------------------------------


def keys_list(page: Page) -> Response:
    """Every key with its state now; Rotate (publish-before-sign) and per-key Revoke."""
    keys = [signing_keys.key_data(state) for state in signing_keys.list_keys(page.ctx)]
    return page.render(
        "keys.html",
        "keys",
        "Signing keys",
        keys=keys,
        pending=any(k["state"] == "next" for k in keys),
        default_delay=DEFAULT_PUBLISH_DELAY,
        max_delay=MAX_PUBLISH_DELAY,
    )


def keys_rotate(page: Page) -> Response:
    text = page.value("publish_delay")
    delay: object = None
    if text:
        try:
            delay = int(text)
        except ValueError:
            delay = text  # refused by the service with its code
    rotation = signing_keys.rotate_keys(page.ctx, delay)
    key = signing_keys.key_data(rotation.key)
    return page.redirect(
        "/admin/keys",
        f"The key {key['kid']} is published now and signs from {key['activates_on']}.",
    )


def keys_revoke(page: Page) -> Response:
    kid = page.path_params["kid"]
    revocation = signing_keys.revoke_key(page.ctx, kid)
    if revocation is None:
        return page.redirect("/admin/keys", f"The key {kid} was already revoked.")
    message = f"Revoked the key {kid}: it left the JWKS and its tokens are refused."
    if revocation.replacement is not None:
        message += f" Tokens are now signed with {revocation.replacement.key.kid}."
    return page.redirect("/admin/keys", message)


def postman_page(page: Page) -> Response:
    return page.render(
        "postman.html",
        "postman",
        "Postman",
        token_url=f"{page.issuer}/oauth2/token",
        audience=apis.management_audience(page.issuer),
    )


def _download(payload: dict[str, Any], filename: str) -> Response:
    body = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def postman_collection(page: Page) -> Response:
    document = build_document(page.operations, [page.issuer])
    return _download(postman.build_collection(document), postman.COLLECTION_FILENAME)


def postman_environment(page: Page) -> Response:
    client_id = page.value("client_id")
    return _download(
        postman.build_environment(page.issuer, client_id=client_id),
        postman.ENVIRONMENT_FILENAME,
    )


ROUTES: list[tuple[str, PageHandler | None, PageHandler | None]] = [
    ("/applications", applications_list, application_create),
    ("/applications/{app_id}", application_view, None),
    ("/applications/{app_id}/rotate", None, application_rotate),
    ("/applications/{app_id}/delete", None, application_delete),
    ("/applications/{app_id}/apis", application_apis, None),
    ("/applications/{app_id}/apis/{api_id}", None, application_api_update),
    ("/applications/{app_id}/test", application_test, None),
    ("/test", test_page, test_get_token),
    ("/apis", apis_list, api_create),
    ("/apis/{api_id}", api_view, None),
    ("/apis/{api_id}/scopes", None, api_add_scope),
    ("/apis/{api_id}/scopes/{scope_id}/delete", None, api_delete_scope),
    ("/apis/{api_id}/delete", None, api_delete),
    ("/users", users_list, user_create),
    ("/users/{user_id}", user_view, user_update),
    ("/users/{user_id}/delete", None, user_delete),
    ("/organizations", organizations_list, organization_create),
    ("/organizations/{org_code}", organization_view, None),
    ("/organizations/{org_code}/members", None, organization_add_member),
    ("/organizations/{org_code}/members/{user_id}/delete", None, organization_remove_member),
    ("/organizations/{org_code}/delete", None, organization_delete),
    ("/roles", roles_list, role_create),
    ("/roles/{role_id}/delete", None, role_delete),
    ("/permissions", permissions_list, permission_create),
    ("/permissions/{permission_id}/delete", None, permission_delete),
    ("/keys", keys_list, None),
    ("/keys/rotate", None, keys_rotate),
    ("/keys/{kid}/revoke", None, keys_revoke),
    ("/postman", postman_page, None),
    ("/postman/collection.json", postman_collection, None),
    ("/postman/environment.json", postman_environment, None),
    *WEBHOOK_ROUTES,
    *AUDIT_ROUTES,
]
