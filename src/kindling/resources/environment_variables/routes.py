"""Environment variables: Kinde's five operations; a secret's value never leaves."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.render import success
from kindling.resources.environment_variables import service
from kindling.resources.environment_variables.model import EnvironmentVariable

router = Router("Environment variables")


def variable_item(variable: EnvironmentVariable) -> dict[str, Any]:
    """Kinde's ``environment_variable``: a secret's ``value`` is null (the schema's one
    nullable field), whatever is stored; the sealed value is never rendered."""
    return {
        "id": variable.id,
        "key": variable.key,
        "value": None if variable.is_secret else variable.value,
        "is_secret": variable.is_secret,
        "created_on": variable.created_on,
    }


@router.operation(
    "GET",
    "/environment_variables",
    scope="read:environment_variables",
    operation_id="getEnvironmentVariables",
)
def get_environment_variables(call: Call) -> dict[str, Any]:
    found = service.list_environment_variables(call.ctx.storage)
    # The operation takes no paging parameters: every variable is on the one page.
    return success(
        "Success", has_more=False, environment_variables=[variable_item(v) for v in found]
    )


@router.operation(
    "POST",
    "/environment_variables",
    scope="create:environment_variables",
    status=201,
    operation_id="createEnvironmentVariable",
    body=True,
)
def create_environment_variable(call: Call) -> dict[str, Any]:
    variable = service.create_environment_variable(
        call.ctx.storage, call.ctx.clock, service.sealer_for(call.ctx.master), call.json()
    )
    return success(
        "Environment variable created",
        "VARIABLE_CREATED",
        environment_variable={"id": variable.id},
    )


@router.operation(
    "GET",
    "/environment_variables/{variable_id}",
    scope="read:environment_variables",
    operation_id="getEnvironmentVariable",
)
def get_environment_variable(call: Call) -> dict[str, Any]:
    variable = service.get_environment_variable(call.ctx.storage, call.path["variable_id"])
    return success("Success", environment_variable=variable_item(variable))


@router.operation(
    "PATCH",
    "/environment_variables/{variable_id}",
    scope="update:environment_variables",
    operation_id="updateEnvironmentVariable",
    body=True,
)
def update_environment_variable(call: Call) -> dict[str, Any]:
    service.update_environment_variable(
        call.ctx.storage,
        service.sealer_for(call.ctx.master),
        call.path["variable_id"],
        call.json(),
    )
    return success("Environment variable updated", "ENVIRONMENT_VARIABLE_UPDATED")


@router.operation(
    "DELETE",
    "/environment_variables/{variable_id}",
    scope="delete:environment_variables",
    operation_id="deleteEnvironmentVariable",
)
def delete_environment_variable(call: Call) -> dict[str, Any]:
    service.delete_environment_variable(call.ctx.storage, call.path["variable_id"])
    return success("Environment variable deleted", "ENVIRONMENT_VARIABLE_DELETED")
