"""SCIM directories: Kinde's five operations; the bearer token only in the create's answer."""

from typing import Any

from kindling.platform.operations import Call, ErrorBody, Router
from kindling.platform.params import STARTING_AFTER, Query
from kindling.platform.render import compact, success
from kindling.resources.directories import service
from kindling.resources.directories.model import Directory

router = Router("Directories")
# The spec gives these operations' 404 (``DIRECTORY_NOT_FOUND``) the usual
# ``error_response`` body, not the ``not_found_response`` most declared 404s answer.
#: Kinde's default page of directories is 50 (the usual maximum of 500 applies).
PAGE_SIZE = Query.page_size(default=50)
ORGANIZATION_CODE = Query.string("organization_code")
_NULLABLE = (
    "enterprise_connection_id",
    "enterprise_connection_name",
    "last_sync_started_at",
    "last_sync_completed_at",
    "last_sync_error",
)


def directory_item(directory: Directory, secret_token: str | None = None) -> dict[str, Any]:
    """Kinde's ``directory``; ``secret_token`` only when it was just issued (creation)."""
    return compact(
        {
            "id": directory.id,
            "directory_name": directory.directory_name,
            "directory_endpoint_id": directory.directory_endpoint_id,
            "secret_token": secret_token,
            "status": directory.status,
            "organization_code": directory.organization_code,
            "enterprise_connection_id": directory.enterprise_connection_id,
            "enterprise_connection_name": directory.enterprise_connection_name,
            "last_sync_started_at": directory.last_sync_started_at,
            "last_sync_completed_at": directory.last_sync_completed_at,
            "last_sync_error": directory.last_sync_error,
            "created_on": directory.created_on,
        },
        _NULLABLE,
    )


@router.operation(
    "GET",
    "/directories",
    scope="read:scim_directories",
    operation_id="getDirectories",
    query=(PAGE_SIZE, STARTING_AFTER, ORGANIZATION_CODE),
)
def get_directories(call: Call) -> dict[str, Any]:
    found, has_more = service.list_directories(
        call.ctx.storage,
        call.param(STARTING_AFTER),
        call.param(PAGE_SIZE),
        call.param(ORGANIZATION_CODE),
    )
    return success("Success", has_more=has_more, directories=[directory_item(d) for d in found])


@router.operation(
    "POST",
    "/directories",
    scope="create:scim_directories",
    status=201,
    operation_id="createDirectory",
    body=True,
    errors=(409,),
)
def create_directory(call: Call) -> dict[str, Any]:
    issued = service.create_directory(
        call.ctx.storage, call.ctx.hasher, call.ctx.clock, call.json()
    )
    return success(
        "SCIM directory created",
        "DIRECTORY_CREATED",
        directory=directory_item(issued.directory, issued.secret_token),
    )


@router.operation(
    "GET",
    "/directories/{directory_id}",
    scope="read:scim_directories",
    operation_id="getDirectory",
    errors=(404,),
    not_found=ErrorBody.ERROR_RESPONSE,
)
def get_directory(call: Call) -> dict[str, Any]:
    directory = service.get_directory(call.ctx.storage, call.path["directory_id"])
    return success("Success", directory=directory_item(directory))


@router.operation(
    "PATCH",
    "/directories/{directory_id}",
    scope="update:scim_directories",
    operation_id="updateDirectory",
    body=True,
    errors=(404,),
    not_found=ErrorBody.ERROR_RESPONSE,
)
def update_directory(call: Call) -> dict[str, Any]:
    directory = service.update_directory(call.ctx.storage, call.path["directory_id"], call.json())
    return success(
        "SCIM directory updated", "DIRECTORY_UPDATED", directory=directory_item(directory)
    )


@router.operation(
    "DELETE",
    "/directories/{directory_id}",
    scope="delete:scim_directories",
    operation_id="deleteDirectory",
    errors=(404,),
    not_found=ErrorBody.ERROR_RESPONSE,
)
def delete_directory(call: Call) -> dict[str, Any]:
    directory_id = call.path["directory_id"]
    service.delete_directory(call.ctx.storage, directory_id)
    return success("SCIM directory deleted", "DIRECTORY_DELETED", directory_id=directory_id)
