"""Properties, property categories, and user, organization and application property values.

The value operations belong to Kinde's Users, Organizations and Applications tags; they
are declared on routers of those tags and served through this module's ``router``.
"""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.params import ENDING_BEFORE, PAGE_SIZE, STARTING_AFTER, Query
from kindling.platform.render import compact, success
from kindling.resources.properties import service
from kindling.resources.properties.model import Property, PropertyValue

router = Router("Properties")
_categories = Router("Property Categories")
_users = Router("Users")
_organizations = Router("Organizations")
_applications = Router("Applications")

#: ``context`` filters: properties of users, organizations or applications; categories
#: of the first two only (``INVALID_CONTEXT`` otherwise).
PROPERTY_CONTEXT = Query.enum("context", service.CONTEXTS)
CATEGORY_CONTEXT = Query.enum("context", service.CATEGORY_FILTER_CONTEXTS)
VALUE = Query.string("value", required=True)


def _property(prop: Property) -> dict[str, Any]:
    return compact(
        {
            "id": prop.id,
            "key": prop.key,
            "name": prop.name,
            "is_private": prop.is_private,
            "description": prop.description,
            "is_kinde_property": prop.is_kinde_property,
        }
    )


def _values(values: list[PropertyValue]) -> dict[str, Any]:
    return {
        "code": "OK",
        "message": "Success",
        "properties": [
            {
                "id": v.property.id,
                "key": v.property.key,
                "name": v.property.name,
                "description": v.property.description,
                "value": v.value,
            }
            for v in values
        ],
    }


# --- Properties ----------------------------------------------------------------


@router.operation(
    "GET",
    "/properties",
    scope="read:properties",
    operation_id="GetProperties",
    query=(PAGE_SIZE, STARTING_AFTER, ENDING_BEFORE, PROPERTY_CONTEXT),
)
def get_properties(call: Call) -> dict[str, Any]:
    items, has_more = service.list_properties(
        call.ctx.storage,
        call.param(PROPERTY_CONTEXT),
        call.param(STARTING_AFTER),
        call.param(ENDING_BEFORE),
        call.param(PAGE_SIZE),
    )
    return {
        "code": "OK",
        "message": "Success",
        "properties": [_property(p) for p in items],
        "has_more": has_more,
    }


@router.operation(
    "POST",
    "/properties",
    scope="create:properties",
    status=201,
    operation_id="CreateProperty",
    body=True,
)
def create_property(call: Call) -> dict[str, Any]:
    prop = service.create_property(call.ctx.storage, call.ctx.clock, call.json())
    return success("Property created", "PROPERTY_CREATED", property={"id": prop.id})


@router.operation(
    "PUT",
    "/properties/{property_id}",
    scope="update:properties",
    operation_id="UpdateProperty",
    body=True,
)
def update_property(call: Call) -> dict[str, Any]:
    service.update_property(call.ctx.storage, call.path["property_id"], call.json())
    return success("Property updated", "PROPERTY_UPDATED")


@router.operation(
    "DELETE",
    "/properties/{property_id}",
    scope="delete:properties",
    operation_id="DeleteProperty",
)
def delete_property(call: Call) -> dict[str, Any]:
    service.delete_property(call.ctx.storage, call.path["property_id"])
    return success("Property deleted", "PROPERTY_DELETED")


# --- Property Categories -------------------------------------------------------


@_categories.operation(
    "GET",
    "/property_categories",
    scope="read:property_categories",
    operation_id="GetCategories",
    query=(PAGE_SIZE, STARTING_AFTER, ENDING_BEFORE, CATEGORY_CONTEXT),
)
def get_categories(call: Call) -> dict[str, Any]:
    items, has_more = service.list_categories(
        call.ctx.storage,
        call.param(CATEGORY_CONTEXT),
        call.param(STARTING_AFTER),
        call.param(ENDING_BEFORE),
        call.param(PAGE_SIZE),
    )
    return {
        "code": "OK",
        "message": "Success",
        "categories": [{"id": c.id, "name": c.name} for c in items],
        "has_more": has_more,
    }


@_categories.operation(
    "POST",
    "/property_categories",
    scope="create:property_categories",
    status=201,
    operation_id="CreateCategory",
    body=True,
)
def create_category(call: Call) -> dict[str, Any]:
    category = service.create_category(call.ctx.storage, call.ctx.clock, call.json())
    return success("Category created", "CATEGORY_CREATED", category={"id": category.id})


@_categories.operation(
    "PUT",
    "/property_categories/{category_id}",
    scope="update:property_categories",
    operation_id="UpdateCategory",
    body=True,
)
def update_category(call: Call) -> dict[str, Any]:
    service.update_category(call.ctx.storage, call.path["category_id"], call.json())
    return success("Category updated", "CATEGORY_UPDATED")


# --- values of users, organizations, applications ------------------------------


def _register_values(
    target: Router, context: str, base: str, param: str, noun: str, ids: tuple[str, str, str]
) -> None:
    """Declare GET, PATCH and PUT-one of the property values of users or organizations."""

    def read(call: Call) -> dict[str, Any]:
        return _values(service.get_values(call.ctx.storage, context, call.path[param]))

    def update_many(call: Call) -> dict[str, Any]:
        service.update_values(call.ctx.storage, context, call.path[param], call.json())
        return success("Properties updated", "PROPERTIES_UPDATED")

    def update_one(call: Call) -> dict[str, Any]:
        service.update_value(
            call.ctx.storage,
            context,
            call.path[param],
            call.path["property_key"],
            call.param(VALUE),
        )
        return success("Property updated", "PROPERTY_UPDATED")

    path = f"{base}/{{{param}}}/properties"
    target.operation("GET", path, scope=f"read:{noun}_properties", operation_id=ids[0])(read)
    target.operation(
        "PATCH", path, scope=f"update:{noun}_properties", operation_id=ids[1], body=True
    )(update_many)
    target.operation(
        "PUT",
        path + "/{property_key}",
        scope=f"update:{noun}_properties",
        operation_id=ids[2],
        query=(VALUE,),
    )(update_one)


_register_values(
    _users,
    "usr",
    "/users",
    "user_id",
    "user",
    ("GetUserPropertyValues", "UpdateUserProperties", "UpdateUserProperty"),
)
_register_values(
    _organizations,
    "org",
    "/organizations",
    "org_code",
    "organization",
    ("GetOrganizationPropertyValues", "UpdateOrganizationProperties", "UpdateOrganizationProperty"),
)


@_applications.operation(
    "GET",
    "/applications/{application_id}/properties",
    scope="read:application_properties",
    operation_id="getApplicationPropertyValues",
)
def get_application_property_values(call: Call) -> dict[str, Any]:
    return _values(service.get_values(call.ctx.storage, "app", call.path["application_id"]))


@_applications.operation(
    "PUT",
    "/applications/{application_id}/properties/{property_key}",
    scope="update:application_properties",
    operation_id="updateApplicationsProperty",
    body=True,
)
def update_applications_property(call: Call) -> dict[str, Any]:
    service.update_value(
        call.ctx.storage,
        "app",
        call.path["application_id"],
        call.path["property_key"],
        call.json().get("value"),
    )
    return success("Property updated", "PROPERTY_UPDATED")


router.operations.extend(
    _categories.operations
    + _users.operations
    + _organizations.operations
    + _applications.operations
)
