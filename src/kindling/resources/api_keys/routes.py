"""API keys: create, list, read, rotate, revoke, and the public verify endpoint."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.params import PAGE_SIZE, STARTING_AFTER, Query
from kindling.platform.render import compact, success
from kindling.resources.api_keys import service
from kindling.resources.api_keys.model import ApiKey

router = Router("API Keys")
_NULLABLE = ("key_suffix", "last_verified_on", "last_verified_ip", "created_by")
#: Kinde refuses blank filters here (``INVALID_KEY_TYPE``, ``INVALID_STATUS``).
KEY_TYPE = Query.enum("key_type", ("organization", "user"), blank_is_absent=False)
STATUS = Query.enum("status", service.STATUSES, blank_is_absent=False)
USER_ID = Query.string("user_id")
ORG_CODE = Query.string("org_code")


def _item(key: ApiKey, detail: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
        "type": key.type,
        "status": key.status,
        "key_prefix": key.key_prefix,
        "key_suffix": key.key_suffix,
        "created_on": key.created_on,
        "last_verified_on": key.last_verified_on,
        "last_verified_ip": key.last_verified_ip,
        "created_by": key.created_by,
        "api_ids": list(key.api_ids),
        "scopes": list(key.scopes),
    }
    if detail:
        item.update(
            user_id=key.user_id,
            organization_id=key.org_code,
            verification_count=key.verification_count,
        )
        return compact(item, (*_NULLABLE, "user_id", "organization_id"))
    return compact(item, _NULLABLE)


@router.operation(
    "GET",
    "/api_keys",
    scope="read:api_keys",
    operation_id="getApiKeys",
    query=(PAGE_SIZE, STARTING_AFTER, KEY_TYPE, STATUS, USER_ID, ORG_CODE),
)
def get_api_keys(call: Call) -> dict[str, Any]:
    keys, has_more = service.list_api_keys(
        call.ctx.storage,
        call.param(STARTING_AFTER),
        call.param(PAGE_SIZE),
        call.param(KEY_TYPE),
        call.param(STATUS),
        call.param(USER_ID),
        call.param(ORG_CODE),
    )
    return success("Success", has_more=has_more, api_keys=[_item(k) for k in keys])


@router.operation(
    "POST",
    "/api_keys",
    scope="create:api_keys",
    status=201,
    operation_id="createApiKey",
    body=True,
)
def create_api_key(call: Call) -> dict[str, Any]:
    issued = service.create_api_key(
        call.ctx.storage,
        call.ctx.hasher,
        call.ctx.clock,
        call.json(),
        created_by=call.principal.client_id,
    )
    return success(
        "API key created", "API_KEY_CREATED", api_key={"id": issued.id, "key": issued.key}
    )


@router.operation(
    "GET", "/api_keys/{key_id}", scope="read:api_keys", operation_id="getApiKey", errors=(404,)
)
def get_api_key(call: Call) -> dict[str, Any]:
    key = service.get_api_key(call.ctx.storage, call.path["key_id"])
    return success("Success", api_key=_item(key, detail=True))


@router.operation(
    "PUT",
    "/api_keys/{key_id}",
    scope="update:api_keys",
    status=201,
    operation_id="rotateApiKey",
    errors=(404,),
)
def rotate_api_key(call: Call) -> dict[str, Any]:
    issued = service.rotate_api_key(call.ctx.storage, call.ctx.hasher, call.path["key_id"])
    return success(
        "API key rotated successfully",
        "API_KEY_ROTATED",
        api_key={"id": issued.id, "key": issued.key},
    )


@router.operation(
    "DELETE",
    "/api_keys/{key_id}",
    scope="delete:api_keys",
    operation_id="deleteApiKey",
    errors=(404,),
)
def delete_api_key(call: Call) -> dict[str, Any]:
    service.revoke_api_key(call.ctx.storage, call.path["key_id"])
    return success("API key deleted", "API_KEY_DELETED")


@router.operation(
    "POST",
    "/api_keys/verify",
    scope=None,
    operation_id="verifyApiKey",
    body=True,
    public=True,
)
def verify_api_key(call: Call) -> dict[str, Any]:
    result = service.verify_api_key(
        call.ctx.storage,
        call.ctx.hasher,
        call.ctx.clock,
        call.json().get("api_key"),
        call.client_ip,
    )
    key = result.key
    body: dict[str, Any] = {
        "code": "API_KEY_VERIFIED" if result.is_valid else "API_KEY_INVALID",
        "message": "API key verified" if result.is_valid else "API key is not valid",
        "is_valid": result.is_valid,
    }
    if key is not None and result.is_valid:
        body.update(
            key_id=key.id,
            status=key.status,
            scopes=list(key.scopes),
            org_code=key.org_code,
            user_id=key.user_id,
            last_verified_on=key.last_verified_on,
            verification_count=key.verification_count,
        )
    elif key is not None:
        body.update(key_id=key.id, status=key.status)
    return body
