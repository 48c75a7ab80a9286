"""Applications: list, create (secret shown once), get."""

from typing import Any

from kindling.errors import ValidationError
from kindling.models import Application
from kindling.services import applications as service
from kindling.services.pagination import parse_page_size
from kindling.web.api.framework import Call, Param, Router
from kindling.web.api.render import paged

router = Router("Applications")
SORTS = ("name_asc", "name_desc")


def summary(app: Application) -> dict[str, Any]:
    return {"id": app.id, "name": app.name, "type": app.type}


@router.operation(
    "GET",
    "/applications",
    scope="read:applications",
    operation_id="getApplications",
    query=(Param("sort"), Param("page_size", "integer"), Param("next_token")),
)
def get_applications(call: Call) -> dict[str, Any]:
    sort = call.query.get("sort")
    if sort is not None and sort not in SORTS:
        raise ValidationError("sort must be name_asc or name_desc", "INVALID_SORT")
    size = parse_page_size(call.query.get("page_size"))
    cursors, token_in = call.ctx.cursors, call.query.get("next_token")
    token: str | None = None
    if sort is None:
        apps, cursor = service.list_applications(
            call.ctx.storage, cursors.decode("applications", token_in), size
        )
        token = None if cursor is None else cursors.encode("applications", cursor)
    else:
        listing = f"applications|{sort}"
        apps, keyed = service.list_applications_by_name(
            call.ctx.storage, cursors.decode_keyed(listing, token_in), size, sort == "name_desc"
        )
        token = None if keyed is None else cursors.encode(listing, keyed)
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
    return {
        "code": "OK",
        "message": "Application",
        "application": {
            "id": app.id,
            "name": app.name,
            "type": app.type,
            "client_id": app.client_id,
        },
    }
