"""Applications: list, create (secret shown once), get."""

from typing import Any

from kindling.clock import isoformat
from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.operations import Call, Router
from kindling.platform.pagination import keyset_page
from kindling.platform.params import ENDING_BEFORE, NEXT_TOKEN, PAGE_SIZE, STARTING_AFTER, Query
from kindling.platform.render import compact, paged, success
from kindling.resources.applications import service
from kindling.resources.applications.model import Application

router = Router("Applications")
SORTS = ("name_asc", "name_desc")
#: Kinde refuses a blank ``sort`` here (``INVALID_SORT``).
SORT = Query.enum("sort", SORTS, blank_is_absent=False)
#: Access roles come at most 100 a page (Kinde: ``PAGE_SIZE_LIMIT_EXCEEDED`` above that).
ACCESS_ROLES_PAGE_SIZE = Query.page_size(maximum=100)


def summary(app: Application) -> dict[str, Any]:
    return {"id": app.id, "name": app.name, "type": app.type}


@router.operation(
    "GET",
    "/applications",
    scope="read:applications",
    operation_id="getApplications",
    query=(SORT, PAGE_SIZE, NEXT_TOKEN),
)
def get_applications(call: Call) -> dict[str, Any]:
    storage = call.ctx.storage
    apps, token = keyset_page(
        call.ctx.cursors,
        "applications",
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        sort=call.param(SORT),
        by_sequence=lambda after, size: service.list_applications(storage, after, size),
        by_sort=lambda sort, after, size: service.list_applications_by_name(
            storage, after, size, sort == "name_desc"
        ),
    )
    return paged("applications", [summary(a) for a in apps], token)


@router.operation(
    "POST",
    "/applications",
    scope="create:applications",
    status=201,
    operation_id="createApplication",
    body=True,
)
def create_application(call: Call) -> dict[str, Any]:
    body = call.json()
    created = service.create_application(
        call.ctx.storage,
        call.ctx.hasher,
        call.ctx.clock,
        body.get("name"),
        body.get("type"),
        body.get("org_code"),
    )
    app = created.application
    return {
        "code": "APPLICATION_CREATED",
        "message": "Application successfully created",
        "application": {
            "id": app.id,
            "client_id": app.client_id,
            "client_secret": created.client_secret,
        },
    }


@router.operation(
    "GET",
    "/applications/{application_id}",
    scope="read:applications",
    operation_id="getApplication",
)
def get_application(call: Call) -> dict[str, Any]:
    app = service.get_application(call.ctx.storage, call.path["application_id"])
    application: dict[str, Any] = {
        "id": app.id,
        "name": app.name,
        "type": app.type,
        "client_id": app.client_id,
    }
    for key in service.BOOL_SETTINGS:
        application[key] = bool(app.settings.get(key, False))
    for key in ("login_uri", "homepage_uri"):
        if isinstance(app.settings.get(key), str):
            application[key] = app.settings[key]
    return {"code": "OK", "message": "Application", "application": application}


@router.operation(
    "PATCH",
    "/applications/{application_id}",
    scope="update:applications",
    operation_id="updateApplication",
    body=True,
    no_body=True,
)
def update_application(call: Call) -> None:
    service.update_application(call.ctx.storage, call.path["application_id"], call.json())


@router.operation(
    "DELETE",
    "/applications/{application_id}",
    scope="delete:applications",
    operation_id="deleteApplication",
)
def delete_application(call: Call) -> dict[str, Any]:
    service.delete_application(call.ctx.storage, call.path["application_id"])
    return success("Application successfully deleted", "APPLICATION_DELETED")


@router.operation(
    "PATCH",
    "/applications/{application_id}/tokens",
    scope="update:application_tokens",
    operation_id="updateApplicationTokens",
    body=True,
)
def update_application_tokens(call: Call) -> dict[str, Any]:
    service.update_tokens(call.ctx.storage, call.path["application_id"], call.json())
    return success("Application tokens updated", "APPLICATION_TOKENS_UPDATED")


@router.operation(
    "GET",
    "/applications/{application_id}/access_roles",
    scope="read:applications",
    operation_id="GetApplicationAccessRoles",
    query=(ACCESS_ROLES_PAGE_SIZE, STARTING_AFTER, ENDING_BEFORE),
)
def get_application_access_roles(call: Call) -> dict[str, Any]:
    after, before = call.param(STARTING_AFTER), call.param(ENDING_BEFORE)
    if after and before:
        raise ValidationError(
            "Only one of starting_after or ending_before can be used", Code.TOO_MANY_PARAMETERS
        )
    roles, has_more = service.list_access_roles(
        call.ctx.storage,
        call.path["application_id"],
        after,
        before,
        call.param(ACCESS_ROLES_PAGE_SIZE),
    )
    return {"code": "OK", "message": "Success", "roles": roles, "has_more": has_more}


@router.operation(
    "POST",
    "/applications/{application_id}/access_roles/{role_id}",
    scope="update:applications",
    operation_id="AddApplicationAccessRole",
)
def add_application_access_role(call: Call) -> dict[str, Any]:
    service.set_access_role(
        call.ctx.storage, call.path["application_id"], call.path["role_id"], allowed=True
    )
    return success("Role added", "ROLE_ADDED")


@router.operation(
    "DELETE",
    "/applications/{application_id}/access_roles/{role_id}",
    scope="update:applications",
    operation_id="RemoveApplicationAccessRole",
)
def remove_application_access_role(call: Call) -> dict[str, Any]:
    service.set_access_role(
        call.ctx.storage, call.path["application_id"], call.path["role_id"], allowed=False
    )
    return success("Role removed", "ROLE_REMOVED")


@router.operation(
    "GET",
    "/applications/{application_id}/connections",
    scope="read:application_connections",
    operation_id="GetApplicationConnections",
)
def get_application_connections(call: Call) -> dict[str, Any]:
    connections = service.list_connections(call.ctx.storage, call.path["application_id"])
    items = []
    for connection in connections:
        fields = compact(dict(connection))
        items.append({**fields, "connection": dict(fields)})
    return {"code": "OK", "message": "Success", "connections": items, "has_more": False}


@router.operation(
    "POST",
    "/applications/{application_id}/connections/{connection_id}",
    scope="create:application_connections",
    operation_id="EnableConnection",
    no_body=True,
)
def enable_connection(call: Call) -> None:
    service.set_connection(
        call.ctx.storage, call.path["application_id"], call.path["connection_id"], enabled=True
    )


@router.operation(
    "DELETE",
    "/applications/{application_id}/connections/{connection_id}",
    scope="delete:application_connections",
    operation_id="RemoveConnection",
)
def remove_connection(call: Call) -> dict[str, Any]:
    service.set_connection(
        call.ctx.storage, call.path["application_id"], call.path["connection_id"], enabled=False
    )
    return success("Connection removed", "CONNECTION_REMOVED")


#: Kindling's own operations on applications, mounted at ``/kindling/v1``: Kinde's
#: Management API has no way to rotate an M2M application's secret, so we add one.
#: It takes the same bearer tokens and scopes as the Management API.
extensions = Router("Kindling extensions")


@extensions.operation(
    "POST",
    "/applications/{application_id}/rotate_secret",
    scope="update:applications",
    operation_id="rotateApplicationSecret",
    body=True,
)
def rotate_application_secret(call: Call) -> dict[str, Any]:
    """Issue a new client secret; the old ones keep working for ``grace_seconds`` (default 1 h)."""
    grace = call.json(required=False).get("grace_seconds", service.DEFAULT_GRACE)
    if not isinstance(grace, int) or isinstance(grace, bool):
        raise ValidationError("grace_seconds must be an integer", Code.INVALID_GRACE_SECONDS)
    secret, expires_at = service.rotate_secret(
        call.ctx.storage, call.ctx.hasher, call.ctx.clock, call.path["application_id"], grace
    )
    return {
        "code": "SECRET_ROTATED",
        "message": "A new client secret was issued; it is shown only now",
        "client_id": call.path["application_id"],
        "client_secret": secret,
        "previous_secrets_expire_on": isoformat(expires_at),
    }
