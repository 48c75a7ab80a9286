"""Feature flags and their environment, organization and user overrides.

The override operations belong to Kinde's Environments, Organizations and Users tags;
they are declared on routers of those tags and served through this module's ``router``.
Values are always JSON strings; ``feature_flags`` listings are maps ``{key: {type, value}}``.
"""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.params import Query
from kindling.platform.render import success
from kindling.resources.feature_flags import service

router = Router("Feature Flags")
_environments = Router("Environments")
_organizations = Router("Organizations")
_users = Router("Users")
#: ``PUT /feature_flags/{key}`` sends every field in the query; the service checks them
#: (``allow_override_level`` takes ``usr`` too, beyond the contract's enum).
FLAG_FIELDS = tuple(
    Query.string(name, required=True)
    for name in ("name", "description", "type", "allow_override_level", "default_value")
)
VALUE = Query.string("value", required=True)
ORG_CODE = Query.string("org_code")


def _flag_map(values: list[service.FlagValue]) -> dict[str, Any]:
    return {v.key: {"type": v.type, "value": v.value} for v in values}


# --- Feature Flags -------------------------------------------------------------


@router.operation(
    "POST",
    "/feature_flags",
    scope="create:feature_flags",
    status=201,
    operation_id="CreateFeatureFlag",
    body=True,
)
def create_feature_flag(call: Call) -> dict[str, Any]:
    service.create_flag(call.ctx.storage, call.ctx.clock, call.json())
    return success("Feature flag created", "FEATURE_FLAG_CREATED")


@router.operation(
    "PUT",
    "/feature_flags/{feature_flag_key}",
    scope="update:feature_flags",
    operation_id="UpdateFeatureFlag",
    query=FLAG_FIELDS,
)
def update_feature_flag(call: Call) -> dict[str, Any]:
    fields = {param.name: call.param(param) for param in FLAG_FIELDS}
    service.update_flag(call.ctx.storage, call.path["feature_flag_key"], fields)
    return success("Feature flag updated", "FEATURE_FLAG_UPDATED")


@router.operation(
    "DELETE",
    "/feature_flags/{feature_flag_key}",
    scope="delete:feature_flags",
    operation_id="DeleteFeatureFlag",
)
def delete_feature_flag(call: Call) -> dict[str, Any]:
    service.delete_flag(call.ctx.storage, call.path["feature_flag_key"])
    return success("Feature flag deleted", "FEATURE_FLAG_DELETED")


# --- Environments ----------------------------------------------------------------


@_environments.operation(
    "GET",
    "/environment/feature_flags",
    scope="read:environment_feature_flags",
    operation_id="GetEnvironementFeatureFlags",
)
def get_environment_feature_flags(call: Call) -> dict[str, Any]:
    return {
        "code": "OK",
        "message": "Success",
        "feature_flags": _flag_map(service.environment_values(call.ctx.storage)),
    }


@_environments.operation(
    "DELETE",
    "/environment/feature_flags",
    scope="delete:environment_feature_flags",
    operation_id="DeleteEnvironementFeatureFlagOverrides",
)
def delete_environment_feature_flag_overrides(call: Call) -> dict[str, Any]:
    service.clear_environment_values(call.ctx.storage)
    return success("Feature flag overrides deleted", "FEATURE_FLAG_OVERRIDES_DELETED")


@_environments.operation(
    "PATCH",
    "/environment/feature_flags/{feature_flag_key}",
    scope="update:environment_feature_flags",
    operation_id="UpdateEnvironementFeatureFlagOverride",
    body=True,
)
def update_environment_feature_flag_override(call: Call) -> dict[str, Any]:
    service.set_environment_value(
        call.ctx.storage, call.path["feature_flag_key"], call.json().get("value")
    )
    return success("Feature flag override updated", "FEATURE_FLAG_OVERRIDE_UPDATED")


@_environments.operation(
    "DELETE",
    "/environment/feature_flags/{feature_flag_key}",
    scope="delete:environment_feature_flags",
    operation_id="DeleteEnvironementFeatureFlagOverride",
)
def delete_environment_feature_flag_override(call: Call) -> dict[str, Any]:
    service.delete_environment_value(call.ctx.storage, call.path["feature_flag_key"])
    return success("Feature flag override deleted", "FEATURE_FLAG_OVERRIDE_DELETED")


# --- Organizations ---------------------------------------------------------------


@_organizations.operation(
    "GET",
    "/organizations/{org_code}/feature_flags",
    scope="read:organization_feature_flags",
    operation_id="GetOrganizationFeatureFlags",
)
def get_organization_feature_flags(call: Call) -> dict[str, Any]:
    values = service.organization_values(call.ctx.storage, call.path["org_code"])
    return {"code": "OK", "message": "Success", "feature_flags": _flag_map(values)}


@_organizations.operation(
    "DELETE",
    "/organizations/{org_code}/feature_flags",
    scope="delete:organization_feature_flags",
    operation_id="DeleteOrganizationFeatureFlagOverrides",
)
def delete_organization_feature_flag_overrides(call: Call) -> dict[str, Any]:
    service.clear_organization_values(call.ctx.storage, call.path["org_code"])
    return success("Feature flag overrides deleted", "FEATURE_FLAG_OVERRIDES_DELETED")


@_organizations.operation(
    "PATCH",
    "/organizations/{org_code}/feature_flags/{feature_flag_key}",
    scope="update:organization_feature_flags",
    operation_id="UpdateOrganizationFeatureFlagOverride",
    query=(VALUE,),
)
def update_organization_feature_flag_override(call: Call) -> dict[str, Any]:
    service.set_organization_value(
        call.ctx.storage,
        call.path["org_code"],
        call.path["feature_flag_key"],
        call.param(VALUE),
    )
    return success("Feature flag override updated", "FEATURE_FLAG_OVERRIDE_UPDATED")


@_organizations.operation(
    "DELETE",
    "/organizations/{org_code}/feature_flags/{feature_flag_key}",
    scope="delete:organization_feature_flags",
    operation_id="DeleteOrganizationFeatureFlagOverride",
)
def delete_organization_feature_flag_override(call: Call) -> dict[str, Any]:
    service.delete_organization_value(
        call.ctx.storage, call.path["org_code"], call.path["feature_flag_key"]
    )
    return success("Feature flag override deleted", "FEATURE_FLAG_OVERRIDE_DELETED")


# --- Users -----------------------------------------------------------------------


@_users.operation(
    "PATCH",
    "/users/{user_id}/feature_flags/{feature_flag_key}",
    scope="update:user_feature_flags",
    operation_id="UpdateUserFeatureFlagOverride",
    query=(VALUE,),
)
def update_user_feature_flag_override(call: Call) -> dict[str, Any]:
    service.set_user_value(
        call.ctx.storage,
        call.path["user_id"],
        call.path["feature_flag_key"],
        call.param(VALUE),
    )
    return success("Feature flag override updated", "FEATURE_FLAG_OVERRIDE_UPDATED")


router.operations.extend(_environments.operations + _organizations.operations + _users.operations)


#: Kindling's own feature-flag operations, mounted at ``/kindling/v1``.
extensions = Router("Kindling extensions")


@extensions.operation(
    "GET",
    "/users/{user_id}/feature_flags",
    scope="read:environment_feature_flags",
    operation_id="getUserFeatureFlags",
    query=(ORG_CODE,),
)
def get_user_feature_flags(call: Call) -> dict[str, Any]:
    """The flags one user sees (user > organization > environment > default).

    Kinde's API can set user overrides but not read the result; this evaluates it.
    """
    values = service.user_values(call.ctx.storage, call.path["user_id"], call.param(ORG_CODE))
    return {
        "code": "OK",
        "message": "Success",
        "feature_flags": {v.key: {"type": v.type, "value": v.value} for v in values},
    }
