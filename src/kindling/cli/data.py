"""The data commands: users, orgs, roles, permissions, apps, apis, flags, webhooks.

Each command is a few calls of the Management API through ``kindling.sdk``'s client,
the same code whether the client talks to a remote server (``--profile``, ``--remote``)
or to a data dir in process (``--data-dir``; ``kindling.cli.target``). ``--json``
prints JSON (the same for both), tables otherwise. Listings page through everything
(Kinde's ``next_token`` cursors; ``--limit`` stops early) with a progress bar on a
terminal (``kindling.cli.progress``). Deleting asks first unless ``--yes`` or
``--json``; an unknown id is one line on stderr and exit status 1
(``kindling.cli.errors``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from kindling.cli.errors import CliError, Exit
from kindling.cli.options import data_dir_option, json_option, yes_option
from kindling.cli.output import emit_json, fields, table
from kindling.cli.progress import show_progress, track
from kindling.cli.target import Session, management_client

#: Items asked for per page when listing everything (the Management API's maximum).
PAGE_SIZE = 500


def _segment(value: str) -> str:
    """``value`` as one path segment (an id can hold anything a user typed)."""
    return quote(value, safe="")


#: The client of this invocation: the data dir in process, or the remote server.
_session = management_client


def _list(
    session: Session,
    path: str,
    item_key: str,
    label: str,
    as_json: bool,
    params: dict[str, Any] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Every item of a paged listing (at most ``limit``), with a progress bar on a TTY."""
    page_size = min(limit, PAGE_SIZE) if limit else PAGE_SIZE
    items: Iterable[dict[str, Any]] = session.client.paginate(
        path, item_key=item_key, params=dict(params or {}), page_size=page_size
    )
    found: list[dict[str, Any]] = []
    for item in track(items, label, show_progress(as_json)):
        found.append(item)
        if limit is not None and len(found) >= limit:
            break
    return found


def _confirm(question: str, yes: bool, as_json: bool) -> None:
    if not yes and not as_json:
        click.confirm(question, abort=True)


def _deleted(kind: str, key: str, value: str, as_json: bool) -> None:
    if as_json:
        emit_json({key: value, "deleted": True})
    else:
        click.echo(f"Deleted the {kind} {value}.")


def _text(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def _show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(data)
    elif data:
        fields([(key, _text(value)) for key, value in data.items()])


def _limit_option(func: Any) -> Any:
    return click.option(
        "--limit", type=click.IntRange(min=1), help="At most this many [default: all]."
    )(func)


# --- users -------------------------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """Users."""


def _user_item(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user.get("id"),
        "email": user.get("email"),
        "first_name": user.get("first_name"),
        "last_name": user.get("last_name"),
        "created_on": user.get("created_on"),
    }


@users_group.command("list")
@data_dir_option
@click.option("--email", help="Only users with this email.")
@_limit_option
@json_option
def users_list(data_dir: Path, email: str | None, limit: int | None, as_json: bool) -> None:
    """List users (all of them, or --limit)."""
    with _session(data_dir) as session:
        params = {"email": email} if email else {}
        found = _list(session, "/api/v1/users", "users", "Users", as_json, params, limit)
    items = [_user_item(u) for u in found]
    if as_json:
        emit_json(items)
        return
    table(["ID", "EMAIL", "FIRST NAME", "LAST NAME", "CREATED"], [list(i.values()) for i in items])


@users_group.command("show")
@data_dir_option
@click.argument("user_id")
@json_option
def users_show(data_dir: Path, user_id: str, as_json: bool) -> None:
    """Show the user USER_ID."""
    with _session(data_dir) as session:
        user = session.client.request("GET", "/api/v1/user", params={"id": user_id})
    _show(dict(user or {}), as_json)


@users_group.command("create")
@data_dir_option
@click.option("--email", required=True)
@click.option("--first-name", help="Given name.")
@click.option("--last-name", help="Family name.")
@json_option
def users_create(
    data_dir: Path, email: str, first_name: str | None, last_name: str | None, as_json: bool
) -> None:
    """Create a user with an email identity."""
    profile = {k: v for k, v in (("given_name", first_name), ("family_name", last_name)) if v}
    body: dict[str, Any] = {"identities": [{"type": "email", "details": {"email": email}}]}
    if profile:
        body["profile"] = profile
    with _session(data_dir) as session:
        created = session.client.request("POST", "/api/v1/user", json=body) or {}
    data = {
        "id": created.get("id"),
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
    }
    _show(data, as_json)


@users_group.command("delete")
@data_dir_option
@click.argument("user_id")
@yes_option
@json_option
def users_delete(data_dir: Path, user_id: str, yes: bool, as_json: bool) -> None:
    """Delete the user USER_ID."""
    _confirm(f"Delete the user {user_id}?", yes, as_json)
    with _session(data_dir) as session:
        session.client.request("DELETE", "/api/v1/user", params={"id": user_id})
    _deleted("user", "id", user_id, as_json)


# --- organizations -----------------------------------------------------------------------


@click.group("orgs")
def orgs_group() -> None:
    """Organizations."""


@orgs_group.command("list")
@data_dir_option
@_limit_option
@json_option
def orgs_list(data_dir: Path, limit: int | None, as_json: bool) -> None:
    """List organizations."""
    with _session(data_dir) as session:
        items = _list(
            session, "/api/v1/organizations", "organizations", "Organizations", as_json, None, limit
        )
    if as_json:
        emit_json(items)
        return
    table(
        ["CODE", "NAME", "HANDLE", "EXTERNAL ID", "DEFAULT"],
        [
            [
                o.get("code"),
                o.get("name"),
                o.get("handle"),
                o.get("external_id"),
                o.get("is_default"),
            ]
            for o in items
        ],
    )


@orgs_group.command("show")
@data_dir_option
@click.argument("code")
@json_option
def orgs_show(data_dir: Path, code: str, as_json: bool) -> None:
    """Show the organization CODE."""
    with _session(data_dir) as session:
        org = session.client.request("GET", "/api/v1/organization", params={"code": code})
    _show(dict(org or {}), as_json)


@orgs_group.command("create")
@data_dir_option
@click.option("--name", required=True)
@click.option("--external-id", help="Your own id for it.")
@click.option("--handle", help="A unique handle.")
@json_option
def orgs_create(
    data_dir: Path, name: str, external_id: str | None, handle: str | None, as_json: bool
) -> None:
    """Create an organization."""
    body = {
        k: v for k, v in (("name", name), ("external_id", external_id), ("handle", handle)) if v
    }
    with _session(data_dir) as session:
        created = session.client.request("POST", "/api/v1/organization", json=body) or {}
    code = (created.get("organization") or {}).get("code") or created.get("code")
    _show({"code": code, "name": name}, as_json)


@orgs_group.command("delete")
@data_dir_option
@click.argument("code")
@yes_option
@json_option
def orgs_delete(data_dir: Path, code: str, yes: bool, as_json: bool) -> None:
    """Delete the organization CODE (and the applications scoped to it)."""
    _confirm(f"Delete the organization {code}?", yes, as_json)
    with _session(data_dir) as session:
        session.client.request("DELETE", f"/api/v1/organization/{_segment(code)}")
    _deleted("organization", "code", code, as_json)


# --- roles and permissions ---------------------------------------------------------------


@click.group("roles")
def roles_group() -> None:
    """Roles."""


@roles_group.command("list")
@data_dir_option
@_limit_option
@json_option
def roles_list(data_dir: Path, limit: int | None, as_json: bool) -> None:
    """List roles."""
    with _session(data_dir) as session:
        items = _list(session, "/api/v1/roles", "roles", "Roles", as_json, None, limit)
    if as_json:
        emit_json(items)
        return
    table(
        ["ID", "KEY", "NAME", "DEFAULT", "DESCRIPTION"],
        [
            [
                r.get("id"),
                r.get("key"),
                r.get("name"),
                r.get("is_default_role"),
                r.get("description"),
            ]
            for r in items
        ],
    )


@roles_group.command("show")
@data_dir_option
@click.argument("role_id")
@json_option
def roles_show(data_dir: Path, role_id: str, as_json: bool) -> None:
    """Show the role ROLE_ID."""
    with _session(data_dir) as session:
        found = session.client.request("GET", f"/api/v1/roles/{_segment(role_id)}") or {}
    _show(dict(found.get("role") or {}), as_json)


def _keyed_create(
    data_dir: Path, path: str, wrapper: str, key: str, name: str, description: str | None
) -> dict[str, Any]:
    body = {"key": key, "name": name}
    if description:
        body["description"] = description
    with _session(data_dir) as session:
        created = session.client.request("POST", path, json=body) or {}
    return {
        "id": (created.get(wrapper) or {}).get("id"),
        "key": key,
        "name": name,
        "description": description,
    }


@roles_group.command("create")
@data_dir_option
@click.option("--key", required=True, help="The key tokens and SDKs name it by.")
@click.option("--name", required=True)
@click.option("--description")
@json_option
def roles_create(
    data_dir: Path, key: str, name: str, description: str | None, as_json: bool
) -> None:
    """Create a role."""
    _show(_keyed_create(data_dir, "/api/v1/roles", "role", key, name, description), as_json)


@roles_group.command("delete")
@data_dir_option
@click.argument("role_id")
@yes_option
@json_option
def roles_delete(data_dir: Path, role_id: str, yes: bool, as_json: bool) -> None:
    """Delete the role ROLE_ID."""
    _confirm(f"Delete the role {role_id}?", yes, as_json)
    with _session(data_dir) as session:
        session.client.request("DELETE", f"/api/v1/roles/{_segment(role_id)}")
    _deleted("role", "id", role_id, as_json)


@click.group("permissions")
def permissions_group() -> None:
    """Permissions."""


@permissions_group.command("list")
@data_dir_option
@_limit_option
@json_option
def permissions_list(data_dir: Path, limit: int | None, as_json: bool) -> None:
    """List permissions."""
    with _session(data_dir) as session:
        items = _list(
            session, "/api/v1/permissions", "permissions", "Permissions", as_json, None, limit
        )
    if as_json:
        emit_json(items)
        return
    table(
        ["ID", "KEY", "NAME", "DESCRIPTION"],
        [[p.get("id"), p.get("key"), p.get("name"), p.get("description")] for p in items],
    )


@permissions_group.command("create")
@data_dir_option
@click.option("--key", required=True)
@click.option("--name", required=True)
@click.option("--description")
@json_option
def permissions_create(
    data_dir: Path, key: str, name: str, description: str | None, as_json: bool
) -> None:
    """Create a permission."""
    created = _keyed_create(data_dir, "/api/v1/permissions", "permission", key, name, description)
    _show(created, as_json)


@permissions_group.command("delete")
@data_dir_option
@click.argument("permission_id")
@yes_option
@json_option
def permissions_delete(data_dir: Path, permission_id: str, yes: bool, as_json: bool) -> None:
    """Delete the permission PERMISSION_ID (roles holding it lose it)."""
    _confirm(f"Delete the permission {permission_id}?", yes, as_json)
    with _session(data_dir) as session:
        session.client.request("DELETE", f"/api/v1/permissions/{_segment(permission_id)}")
    _deleted("permission", "id", permission_id, as_json)


# --- applications ------------------------------------------------------------------------


@click.group("apps")
def apps_group() -> None:
    """Applications (M2M clients)."""


def _issuer(session: Session) -> str | None:
    """The server's issuer, from its discovery document (RFC 8414)."""
    found = session.client.request("GET", "/.well-known/openid-configuration") or {}
    issuer = found.get("issuer")
    return issuer if isinstance(issuer, str) else None


def _api_by_audience(session: Session, audience: str | None) -> dict[str, Any]:
    """The API with ``audience`` (the Management API's when None)."""
    for api in session.client.paginate(
        "/api/v1/apis", item_key="apis", params={}, page_size=PAGE_SIZE
    ):
        if audience is None and api.get("is_management_api"):
            return dict(api)
        if audience is not None and api.get("audience") == audience:
            return dict(api)
    raise CliError(
        f"No API has the audience {audience}" if audience else "There is no Management API",
        Exit.ERROR,
    )


def _authorize(
    session: Session, api: dict[str, Any], app_id: str, keys: tuple[str, ...], as_json: bool
) -> list[str]:
    """Authorize ``app_id`` for ``api`` and grant the scopes ``keys`` (all when empty);
    unknown scopes are refused before anything changes. The granted keys, in the API's
    order."""
    api_id = _segment(str(api["id"]))
    listed = session.client.request("GET", f"/api/v1/apis/{api_id}/scopes") or {}
    scopes = [s for s in listed.get("scopes") or [] if isinstance(s, dict)]
    by_key = {str(s["key"]): str(s["id"]) for s in scopes}
    wanted = list(dict.fromkeys(keys)) if keys else list(by_key)
    unknown = [k for k in wanted if k not in by_key]
    if unknown:
        raise CliError(f"the API has no scope {unknown[0]}", Exit.ERROR)
    session.client.request(
        "PATCH", f"/api/v1/apis/{api_id}/applications", json={"applications": [{"id": app_id}]}
    )
    for key in track(wanted, "Granting scopes", show_progress(as_json), total=len(wanted)):
        session.client.request(
            "POST",
            f"/api/v1/apis/{api_id}/applications/{_segment(app_id)}/scopes/{_segment(by_key[key])}",
        )
    chosen = set(wanted)
    return [k for k in by_key if k in chosen]


@apps_group.command("list")
@data_dir_option
@_limit_option
@json_option
def apps_list(data_dir: Path, limit: int | None, as_json: bool) -> None:
    """List applications."""
    with _session(data_dir) as session:
        found = _list(
            session, "/api/v1/applications", "applications", "Applications", as_json, None, limit
        )
    items = [{"id": a.get("id"), "name": a.get("name"), "type": a.get("type")} for a in found]
    if as_json:
        emit_json(items)
        return
    table(["ID (client id)", "NAME", "TYPE"], [[i["id"], i["name"], i["type"]] for i in items])


@apps_group.command("show")
@data_dir_option
@click.argument("app")
@json_option
def apps_show(data_dir: Path, app: str, as_json: bool) -> None:
    """Show the application APP (its id)."""
    with _session(data_dir) as session:
        found = session.client.request("GET", f"/api/v1/applications/{_segment(app)}") or {}
    _show(dict(found.get("application") or {}), as_json)


@apps_group.command("create")
@data_dir_option
@click.option("--name", required=True)
@click.option(
    "--type",
    "type_",
    default="m2m",
    show_default=True,
    type=click.Choice(["m2m", "reg", "spa", "device"]),
)
@click.option(
    "--authorize-management-api",
    is_flag=True,
    help="Authorize it for the Kinde Management API with every scope.",
)
@json_option
def apps_create(
    data_dir: Path, name: str, type_: str, authorize_management_api: bool, as_json: bool
) -> None:
    """Create an application and print its client id and secret (shown once)."""
    with _session(data_dir) as session:
        created = session.client.request(
            "POST", "/api/v1/applications", json={"name": name, "type": type_}
        )
        app = dict((created or {}).get("application") or {})
        audience = None
        if authorize_management_api:
            api = _api_by_audience(session, None)
            _authorize(session, api, str(app["id"]), (), as_json)
            audience = str(api["audience"])
        issuer = _issuer(session)
    data = {
        "id": app.get("id"),
        "name": name,
        "type": type_,
        "client_id": app.get("client_id"),
        "client_secret": app.get("client_secret"),
        "issuer": issuer,
        "authorized_audiences": [audience] if audience else [],
    }
    if as_json:
        emit_json(data)
        return
    fields([(k, ", ".join(v) if isinstance(v, list) else v) for k, v in data.items()])
    click.echo("\nThe client secret is shown only now; store it safely.")


@apps_group.command("delete")
@data_dir_option
@click.argument("app")
@yes_option
@json_option
def apps_delete(data_dir: Path, app: str, yes: bool, as_json: bool) -> None:
    """Delete the application APP: its secrets get no more tokens, its tokens stop working."""
    _confirm(f"Delete the application {app}?", yes, as_json)
    with _session(data_dir) as session:
        session.client.request("DELETE", f"/api/v1/applications/{_segment(app)}")
    _deleted("application", "id", app, as_json)


@apps_group.command("authorize")
@data_dir_option
@click.argument("app")
@click.option("--api", "audience", required=True, help="Audience of the API.")
@click.option("--scope", "scopes", multiple=True, help="Scope to grant (default: all).")
@json_option
def apps_authorize(
    data_dir: Path, app: str, audience: str, scopes: tuple[str, ...], as_json: bool
) -> None:
    """Authorize APP (its id) for an API and grant scopes."""
    with _session(data_dir) as session:
        api = _api_by_audience(session, audience)
        granted = _authorize(session, api, app, scopes, as_json)
    data = {
        "application_id": app,
        "api_id": api["id"],
        "audience": api["audience"],
        "granted_scopes": granted,
    }
    if as_json:
        emit_json(data)
    else:
        fields(
            [
                ("application", app),
                ("audience", api["audience"]),
                ("granted scopes", " ".join(granted) or "(none)"),
            ]
        )


@apps_group.command("rotate-secret")
@data_dir_option
@click.argument("app")
@click.option(
    "--grace",
    "grace_seconds",
    default=3600,
    show_default=True,
    type=int,
    help="Seconds the old secret keeps working (0 revokes it now).",
)
@json_option
def apps_rotate_secret(data_dir: Path, app: str, grace_seconds: int, as_json: bool) -> None:
    """Issue a new client secret for APP; the old one works until the grace window ends."""
    with _session(data_dir) as session:
        rotated = session.client.request(
            "POST",
            f"/kindling/v1/applications/{_segment(app)}/rotate_secret",
            json={"grace_seconds": grace_seconds},
        )
    rotated = rotated or {}
    data = {
        "client_id": rotated.get("client_id", app),
        "client_secret": rotated.get("client_secret"),
        "previous_secrets_expire_on": rotated.get("previous_secrets_expire_on"),
    }
    if as_json:
        emit_json(data)
        return
    fields(list(data.items()))
    click.echo("\nThe new secret is shown only now; store it safely.")


# --- APIs --------------------------------------------------------------------------------


@click.group("apis")
def apis_group() -> None:
    """APIs (audiences) and their scopes."""


@apis_group.command("list")
@data_dir_option
@_limit_option
@json_option
def apis_list(data_dir: Path, limit: int | None, as_json: bool) -> None:
    """List APIs."""
    with _session(data_dir) as session:
        items = _list(session, "/api/v1/apis", "apis", "APIs", as_json, None, limit)
    if as_json:
        emit_json(items)
        return
    table(
        ["ID", "NAME", "AUDIENCE", "MANAGEMENT API"],
        [
            [a.get("id"), a.get("name"), a.get("audience"), a.get("is_management_api")]
            for a in items
        ],
    )


@apis_group.command("show")
@data_dir_option
@click.argument("api_id")
@json_option
def apis_show(data_dir: Path, api_id: str, as_json: bool) -> None:
    """Show the API API_ID with its scopes and applications."""
    with _session(data_dir) as session:
        found = session.client.request("GET", f"/api/v1/apis/{_segment(api_id)}") or {}
    api = dict(found.get("api") or {})
    if as_json:
        emit_json(api)
        return
    scopes = " ".join(str(s.get("key")) for s in api.get("scopes") or [])
    apps = ", ".join(str(a.get("id")) for a in api.get("applications") or [])
    fields(
        [
            ("id", api.get("id")),
            ("name", api.get("name")),
            ("audience", api.get("audience")),
            ("management API", api.get("is_management_api")),
            ("scopes", scopes or "(none)"),
            ("applications", apps or "(none)"),
        ]
    )


@apis_group.command("create")
@data_dir_option
@click.option("--name", required=True)
@click.option("--audience", required=True, help="The aud tokens for it carry.")
@json_option
def apis_create(data_dir: Path, name: str, audience: str, as_json: bool) -> None:
    """Register an API (an audience)."""
    with _session(data_dir) as session:
        created = session.client.request(
            "POST", "/api/v1/apis", json={"name": name, "audience": audience}
        )
    api_id = ((created or {}).get("api") or {}).get("id")
    _show({"id": api_id, "name": name, "audience": audience}, as_json)


@apis_group.command("delete")
@data_dir_option
@click.argument("api_id")
@yes_option
@json_option
def apis_delete(data_dir: Path, api_id: str, yes: bool, as_json: bool) -> None:
    """Delete the API API_ID: tokens for its audience are no longer issued."""
    _confirm(f"Delete the API {api_id}?", yes, as_json)
    with _session(data_dir) as session:
        session.client.request("DELETE", f"/api/v1/apis/{_segment(api_id)}")
    _deleted("API", "id", api_id, as_json)


# --- feature flags -----------------------------------------------------------------------


@click.group("flags")
def flags_group() -> None:
    """Feature flags (their environment values)."""


@flags_group.command("list")
@data_dir_option
@json_option
def flags_list(data_dir: Path, as_json: bool) -> None:
    """List feature flags with the value the environment gives them."""
    with _session(data_dir) as session:
        found = session.client.request("GET", "/api/v1/environment/feature_flags") or {}
    flags = found.get("feature_flags") or {}
    items = [
        {"key": key, "type": value.get("type"), "value": value.get("value")}
        for key, value in flags.items()
        if isinstance(value, dict)
    ]
    if as_json:
        emit_json(items)
        return
    table(["KEY", "TYPE", "VALUE"], [[i["key"], i["type"], _text(i["value"])] for i in items])


@flags_group.command("create")
@data_dir_option
@click.option("--key", required=True)
@click.option("--name", required=True)
@click.option(
    "--type", "type_", required=True, type=click.Choice(["str", "int", "bool"]), help="Value type."
)
@click.option("--default-value", required=True, help="Its value unless overridden.")
@click.option(
    "--allow-override-level",
    type=click.Choice(["env", "org", "usr"]),
    help="Down to where it may be overridden [default: env].",
)
@click.option("--description")
@json_option
def flags_create(
    data_dir: Path,
    key: str,
    name: str,
    type_: str,
    default_value: str,
    allow_override_level: str | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Create a feature flag."""
    body: dict[str, Any] = {"key": key, "name": name, "type": type_, "default_value": default_value}
    if allow_override_level:
        body["allow_override_level"] = allow_override_level
    if description:
        body["description"] = description
    with _session(data_dir) as session:
        session.client.request("POST", "/api/v1/feature_flags", json=body)
    _show({"key": key, "name": name, "type": type_, "default_value": default_value}, as_json)


@flags_group.command("delete")
@data_dir_option
@click.argument("key")
@yes_option
@json_option
def flags_delete(data_dir: Path, key: str, yes: bool, as_json: bool) -> None:
    """Delete the feature flag KEY (and every override of it)."""
    _confirm(f"Delete the feature flag {key}?", yes, as_json)
    with _session(data_dir) as session:
        session.client.request("DELETE", f"/api/v1/feature_flags/{_segment(key)}")
    _deleted("feature flag", "key", key, as_json)


# --- webhooks ----------------------------------------------------------------------------


@click.group("webhooks")
def webhooks_group() -> None:
    """Webhooks: subscriptions, deliveries and their attempts, re-sending an event."""


def _delivery_counts(session: Session) -> dict[str, dict[str, int]] | None:
    """Pending, delivered and failed deliveries per webhook: read from the data dir, so
    only in local mode (the Management API has no such listing); None when remote."""
    if session.ctx is None:
        return None
    from kindling.resources.webhooks.service import webhooks_overview

    return {v.webhook.id: dict(v.counts) for v in webhooks_overview(session.ctx.storage, recent=0)}


@webhooks_group.command("list")
@data_dir_option
@json_option
def webhooks_list(data_dir: Path, as_json: bool) -> None:
    """List webhooks; with --data-dir also how many deliveries are pending, delivered and
    failed."""
    with _session(data_dir) as session:
        found = session.client.request("GET", "/api/v1/webhooks") or {}
        counts = _delivery_counts(session)
    items = [dict(w) for w in found.get("webhooks") or [] if isinstance(w, dict)]
    if counts is not None:
        empty = {"pending": 0, "delivered": 0, "failed": 0}
        items = [{**w, "deliveries": counts.get(str(w.get("id")), dict(empty))} for w in items]
    if as_json:
        emit_json(items)
        return
    headers = ["ID", "NAME", "ENDPOINT", "EVENT TYPES"]
    if counts is not None:
        headers += ["PENDING", "DELIVERED", "FAILED"]
    rows = []
    for w in items:
        row = [w.get("id"), w.get("name"), w.get("endpoint"), ",".join(w.get("event_types") or [])]
        if counts is not None:
            row += [w["deliveries"].get(k, 0) for k in ("pending", "delivered", "failed")]
        rows.append(row)
    table(headers, rows)


@webhooks_group.command("create")
@data_dir_option
@click.option("--endpoint", required=True, help="The https:// URL that receives the events.")
@click.option(
    "--event-type", "event_types", multiple=True, required=True, help="user.created, say."
)
@click.option("--name", required=True)
@click.option("--description")
@json_option
def webhooks_create(
    data_dir: Path,
    endpoint: str,
    event_types: tuple[str, ...],
    name: str,
    description: str | None,
    as_json: bool,
) -> None:
    """Create a webhook subscribed to the --event-type events."""
    body: dict[str, Any] = {"endpoint": endpoint, "event_types": list(event_types), "name": name}
    if description:
        body["description"] = description
    with _session(data_dir) as session:
        created = session.client.request("POST", "/api/v1/webhooks", json=body)
    webhook_id = ((created or {}).get("webhook") or {}).get("id")
    _show(
        {"id": webhook_id, "name": name, "endpoint": endpoint, "event_types": list(event_types)},
        as_json,
    )


@webhooks_group.command("delete")
@data_dir_option
@click.argument("webhook_id")
@yes_option
@json_option
def webhooks_delete(data_dir: Path, webhook_id: str, yes: bool, as_json: bool) -> None:
    """Delete the webhook WEBHOOK_ID: no more events are sent to it."""
    _confirm(f"Delete the webhook {webhook_id}?", yes, as_json)
    with _session(data_dir) as session:
        session.client.request("DELETE", f"/api/v1/webhooks/{_segment(webhook_id)}")
    _deleted("webhook", "id", webhook_id, as_json)


#: Every group this module adds to ``kindling``.
GROUPS = (
    users_group,
    orgs_group,
    roles_group,
    permissions_group,
    apps_group,
    apis_group,
    flags_group,
    webhooks_group,
)
