"""APIs: register audiences, add scopes, authorize applications and grant scopes."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.pagination import MAX_PAGE_SIZE, keyset_page
from kindling.platform.params import NEXT_TOKEN, Query
from kindling.platform.render import paged, success
from kindling.resources.apis import service
from kindling.resources.apis.model import ApiScope

router = Router("APIs")
EXPAND = Query.expand({"scopes"})
#: Kinde's GET /apis takes no paging parameters (SDKs cannot send them), so without
#: page_size every API up to the page maximum is returned; next_token covers the rest.
PAGE_SIZE = Query.page_size(default=MAX_PAGE_SIZE)
#: Kinde shows application types by their display names inside ``GET /apis/{id}``.
TYPE_NAMES = {
    "m2m": "Machine to machine (M2M)",
    "reg": "Back-end web",
    "spa": "Front-end and mobile",
    "device": "Device and IoT",
}


def _scopes(scopes: list[ApiScope]) -> list[dict[str, Any]]:
    return [{"id": s.id, "key": s.key} for s in scopes]


@router.operation(
    "GET",
    "/apis",
    scope="read:apis",
    operation_id="getAPIs",
    query=(EXPAND, PAGE_SIZE, NEXT_TOKEN),
)
def get_apis(call: Call) -> dict[str, Any]:
    storage, expand = call.ctx.storage, call.param(EXPAND)
    items, token = keyset_page(
        call.ctx.cursors,
        "apis",
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        by_key=lambda after, size: service.list_apis(storage, after, size),
    )
    apis = []
    for api, scopes in items:
        entry: dict[str, Any] = {
            "id": api.id,
            "name": api.name,
            "audience": api.audience,
            "is_management_api": api.is_management_api,
        }
        if "scopes" in expand:
            entry["scopes"] = _scopes(scopes)
        apis.append(entry)
    return paged("apis", apis, token)


@router.operation("POST", "/apis", scope="create:apis", operation_id="addAPIs", body=True)
def add_apis(call: Call) -> dict[str, Any]:
    body = call.json()
    api = service.create_api(
        call.ctx.storage, call.ctx.clock, body.get("name"), body.get("audience")
    )
    return success("API successfully created", "API_CREATED", api={"id": api.id})


@router.operation("GET", "/apis/{api_id}", scope="read:apis", operation_id="getAPI")
def get_api(call: Call) -> dict[str, Any]:
    found = service.get_api(call.ctx.storage, call.path["api_id"])
    api = found.api
    return success(
        "Success",
        api={
            "id": api.id,
            "name": api.name,
            "audience": api.audience,
            "is_management_api": api.is_management_api,
            "scopes": _scopes(found.scopes),
            "applications": [
                {"id": a.id, "name": a.name, "type": TYPE_NAMES[a.type], "is_active": True}
                for a in found.applications
            ],
        },
    )


@router.operation(
    "POST",
    "/apis/{api_id}/scopes",
    scope="create:api_scopes",
    operation_id="addAPIScope",
    body=True,
)
def add_api_scope(call: Call) -> dict[str, Any]:
    body = call.json()
    scope = service.add_scope(
        call.ctx.storage, call.path["api_id"], body.get("key"), body.get("description")
    )
    return success("Scope successfully created", "SCOPE_CREATED", scope={"id": scope.id})


@router.operation(
    "PATCH",
    "/apis/{api_id}/applications",
    scope="update:apis",
    operation_id="updateAPIApplications",
    body=True,
)
def update_api_applications(call: Call) -> dict[str, Any]:
    changes = service.update_api_applications(
        call.ctx.storage, call.ctx.clock, call.path["api_id"], call.json().get("applications")
    )
    return success(
        "API applications updated",
        "API_APPLICATIONS_UPDATED",
        applications_connected=changes.connected,
        applications_disconnected=changes.disconnected,
    )


@router.operation(
    "POST",
    "/apis/{api_id}/applications/{application_id}/scopes/{scope_id}",
    scope="create:api_application_scopes",
    operation_id="addAPIApplicationScope",
    no_body=True,
)
def add_api_application_scope(call: Call) -> None:
    service.set_application_scope(
        call.ctx.storage,
        call.path["api_id"],
        call.path["application_id"],
        call.path["scope_id"],
        granted=True,
    )


@router.operation(
    "DELETE",
    "/apis/{api_id}/applications/{application_id}/scopes/{scope_id}",
    scope="delete:apis_application_scopes",
    operation_id="deleteAPIApplicationScope",
    no_body=True,
)
def delete_api_application_scope(call: Call) -> None:
    service.set_application_scope(
        call.ctx.storage,
        call.path["api_id"],
        call.path["application_id"],
        call.path["scope_id"],
        granted=False,
    )


@router.operation("DELETE", "/apis/{api_id}", scope="delete:apis", operation_id="deleteAPI")
def delete_api(call: Call) -> dict[str, Any]:
    service.delete_api(call.ctx.storage, call.path["api_id"])
    return success("API successfully deleted", "API_DELETED")


def _scope_detail(scope: ApiScope) -> dict[str, Any]:
    return {"id": scope.id, "key": scope.key, "description": scope.description or ""}


@router.operation(
    "GET", "/apis/{api_id}/scopes", scope="read:api_scopes", operation_id="getAPIScopes"
)
def get_api_scopes(call: Call) -> dict[str, Any]:
    scopes = service.list_scopes(call.ctx.storage, call.path["api_id"])
    return success("Success", scopes=[_scope_detail(s) for s in scopes])


@router.operation(
    "GET",
    "/apis/{api_id}/scopes/{scope_id}",
    scope="read:api_scopes",
    operation_id="getAPIScope",
)
def get_api_scope(call: Call) -> dict[str, Any]:
    scope = service.get_scope(call.ctx.storage, call.path["api_id"], call.path["scope_id"])
    return success("Success", scope=_scope_detail(scope))


@router.operation(
    "PATCH",
    "/apis/{api_id}/scopes/{scope_id}",
    scope="update:api_scopes",
    operation_id="updateAPIScope",
    body=True,
    no_body=True,
)
def update_api_scope(call: Call) -> None:
    service.update_scope(
        call.ctx.storage,
        call.path["api_id"],
        call.path["scope_id"],
        call.json().get("description"),
    )


@router.operation(
    "DELETE",
    "/apis/{api_id}/scopes/{scope_id}",
    scope="delete:apis_scopes",
    operation_id="deleteAPIScope",
    no_body=True,
)
def delete_api_scope(call: Call) -> None:
    service.delete_scope(call.ctx.storage, call.path["api_id"], call.path["scope_id"])
