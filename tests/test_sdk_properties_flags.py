"""Properties and feature flags through the official Kinde Python SDK over TLS.

Every operation of the area is called with ``client.<tag>_api.<method>`` and must come
back typed and non-None: the SDK returns None when the status differs from the spec's
and raises when a field has the wrong JSON type or enum value.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException
from kinde_sdk.management.models import (
    Category,
    CreateApplicationRequest,
    CreateCategoryRequest,
    CreateCategoryResponse,
    CreateFeatureFlagRequest,
    CreateOrganizationRequest,
    CreatePropertyRequest,
    CreatePropertyResponse,
    CreateUserRequest,
    CreateUserRequestIdentitiesInner,
    CreateUserRequestIdentitiesInnerDetails,
    ErrorResponse,
    GetCategoriesResponse,
    GetEnvironmentFeatureFlagsResponse,
    GetOrganizationFeatureFlagsResponse,
    GetOrganizationFeatureFlagsResponseFeatureFlagsValue,
    GetPropertiesResponse,
    GetPropertyValuesResponse,
    ModelProperty,
    PropertyValue,
    SuccessResponse,
    UpdateApplicationsPropertyRequest,
    UpdateApplicationsPropertyRequestValue,
    UpdateCategoryRequest,
    UpdateEnvironementFeatureFlagOverrideRequest,
    UpdateOrganizationPropertiesRequest,
    UpdatePropertyRequest,
)


def uid() -> str:
    return uuid.uuid4().hex[:12]


def ok(result: Any) -> SuccessResponse:
    assert isinstance(result, SuccessResponse), result
    assert result.code and result.message
    return result


def category(client: ManagementClient, context: str, name: str | None = None) -> str:
    created = client.property_categories_api.create_category(
        CreateCategoryRequest(name=name or f"SDK {uid()}", context=context)
    )
    assert isinstance(created, CreateCategoryResponse)
    assert created.code == "CATEGORY_CREATED"
    assert created.category is not None and created.category.id is not None
    return str(created.category.id)


def prop(client: ManagementClient, category_id: str, context: str, **extra: Any) -> tuple[str, str]:
    key = f"sdk_{uid()}"
    created = client.properties_api.create_property(
        CreatePropertyRequest(
            name=f"Prop {key}",
            key=key,
            type=extra.pop("type", "single_line_text"),
            context=context,
            is_private=extra.pop("is_private", False),
            category_id=category_id,
            **extra,
        )
    )
    assert isinstance(created, CreatePropertyResponse)
    assert created.code == "PROPERTY_CREATED"
    assert created.var_property is not None and created.var_property.id is not None
    return created.var_property.id, key


def values(result: Any) -> dict[str, PropertyValue]:
    assert isinstance(result, GetPropertyValuesResponse), result
    assert result.code == "OK" and result.properties is not None
    assert all(isinstance(v, PropertyValue) for v in result.properties)
    return {v.key: v for v in result.properties if v.key is not None}


def flags(result: Any) -> dict[str, GetOrganizationFeatureFlagsResponseFeatureFlagsValue]:
    assert isinstance(
        result, GetEnvironmentFeatureFlagsResponse | GetOrganizationFeatureFlagsResponse
    )
    assert result.code == "OK" and result.feature_flags is not None
    assert all(
        isinstance(v, GetOrganizationFeatureFlagsResponseFeatureFlagsValue)
        for v in result.feature_flags.values()
    )
    found: dict[str, GetOrganizationFeatureFlagsResponseFeatureFlagsValue] = result.feature_flags
    return found


def organization(client: ManagementClient) -> str:
    created = client.organizations_api.create_organization(
        CreateOrganizationRequest(name=f"SDK org {uid()}")
    )
    assert created is not None and created.organization is not None
    assert created.organization.code is not None
    return str(created.organization.code)


def user(client: ManagementClient) -> str:
    created = client.users_api.create_user(
        create_user_request=CreateUserRequest(
            identities=[
                CreateUserRequestIdentitiesInner(
                    type="email",
                    details=CreateUserRequestIdentitiesInnerDetails(email=f"sdk-{uid()}@ex.com"),
                )
            ]
        )
    )
    assert created is not None and created.id is not None
    return str(created.id)


def test_categories(client: ManagementClient) -> None:
    name = f"SDK cat {uid()}"
    first = category(client, "usr", name)
    second = category(client, "usr")

    page = client.property_categories_api.get_categories(
        page_size=1, starting_after=first, context="usr"
    )
    assert isinstance(page, GetCategoriesResponse)
    assert page.categories is not None and all(isinstance(c, Category) for c in page.categories)
    assert [c.id for c in page.categories] == [second]
    assert page.has_more is False

    back = client.property_categories_api.get_categories(ending_before=second, context="usr")
    assert isinstance(back, GetCategoriesResponse) and back.categories is not None
    assert back.categories[-1].id == first and back.categories[-1].name == name

    ok(
        client.property_categories_api.update_category(
            first, UpdateCategoryRequest(name="Renamed by SDK")
        )
    )
    again = client.property_categories_api.get_categories(ending_before=second, context="usr")
    assert isinstance(again, GetCategoriesResponse) and again.categories is not None
    assert again.categories[-1].name == "Renamed by SDK"


def test_properties(client: ManagementClient) -> None:
    usr_cat = category(client, "usr")
    marker, _ = prop(client, usr_cat, "usr")
    prop_id, key = prop(client, usr_cat, "usr", description="From the SDK", is_private=True)

    listed = client.properties_api.get_properties(page_size=5, starting_after=marker, context="usr")
    assert isinstance(listed, GetPropertiesResponse)
    assert listed.has_more is False and listed.properties is not None
    item = listed.properties[0]
    assert isinstance(item, ModelProperty)
    assert (item.id, item.key, item.description) == (prop_id, key, "From the SDK")
    assert item.is_private is True and item.is_kinde_property is False

    ok(
        client.properties_api.update_property(
            prop_id,
            UpdatePropertyRequest(name="Renamed", is_private=False, category_id=usr_cat),
        )
    )
    renamed = client.properties_api.get_properties(ending_before=prop_id, page_size=1)
    assert isinstance(renamed, GetPropertiesResponse) and renamed.properties is not None
    assert [p.id for p in renamed.properties] == [marker]
    after = client.properties_api.get_properties(starting_after=marker, page_size=1)
    assert isinstance(after, GetPropertiesResponse) and after.properties is not None
    assert after.properties[0].name == "Renamed" and after.properties[0].is_private is False

    ok(client.properties_api.delete_property(prop_id))
    gone = client.properties_api.get_properties(starting_after=marker)
    assert isinstance(gone, GetPropertiesResponse) and gone.properties is not None
    assert prop_id not in [p.id for p in gone.properties]

    with pytest.raises(BadRequestException) as error:
        client.properties_api.delete_property(prop_id)
    assert isinstance(error.value.data, ErrorResponse) and error.value.data.errors
    assert error.value.data.errors[0].code == "PROPERTY_NOT_FOUND"


def test_user_property_values(client: ManagementClient) -> None:
    usr_cat = category(client, "usr")
    prop_id, key = prop(client, usr_cat, "usr")
    _, text = prop(client, usr_cat, "usr", type="multi_line_text")
    user_id = user(client)

    before = values(client.users_api.get_user_property_values(user_id))
    assert before[key].id == prop_id and before[key].value is None

    ok(
        client.users_api.update_user_properties(
            user_id, UpdateOrganizationPropertiesRequest(properties={key: "one", text: "a\nb"})
        )
    )
    now = values(client.users_api.get_user_property_values(user_id))
    assert (now[key].value, now[text].value) == ("one", "a\nb")

    ok(client.users_api.update_user_property(user_id, key, "two"))
    assert values(client.users_api.get_user_property_values(user_id))[key].value == "two"

    with pytest.raises(BadRequestException) as error:
        client.users_api.update_user_properties(
            user_id,
            UpdateOrganizationPropertiesRequest(properties={key: "three", f"no_{uid()}": "x"}),
        )
    assert isinstance(error.value.data, ErrorResponse) and error.value.data.errors
    assert error.value.data.errors[0].code == "PROPERTY_NOT_FOUND"
    assert values(client.users_api.get_user_property_values(user_id))[key].value == "two"


def test_organization_property_values(client: ManagementClient) -> None:
    org_cat = category(client, "org")
    _, key = prop(client, org_cat, "org")
    org_code = organization(client)

    assert (
        values(client.organizations_api.get_organization_property_values(org_code))[key].value
        is None
    )
    ok(
        client.organizations_api.update_organization_properties(
            org_code, UpdateOrganizationPropertiesRequest(properties={key: "HQ"})
        )
    )
    assert (
        values(client.organizations_api.get_organization_property_values(org_code))[key].value
        == "HQ"
    )
    ok(client.organizations_api.update_organization_property(org_code, key, "Branch"))
    assert (
        values(client.organizations_api.get_organization_property_values(org_code))[key].value
        == "Branch"
    )


def test_application_property_values(client: ManagementClient) -> None:
    app_cat = category(client, "app")
    _, key = prop(client, app_cat, "app")
    _, switch = prop(client, app_cat, "app")
    created = client.applications_api.create_application(
        CreateApplicationRequest(name=f"sdk-app-{uid()}", type="m2m")
    )
    assert created is not None and created.application is not None
    app_id = created.application.id
    assert app_id is not None

    assert (
        values(client.applications_api.get_application_property_values(app_id))[key].value is None
    )
    ok(
        client.applications_api.update_applications_property(
            app_id,
            key,
            UpdateApplicationsPropertyRequest(value=UpdateApplicationsPropertyRequestValue("blue")),
        )
    )
    ok(
        client.applications_api.update_applications_property(
            app_id,
            switch,
            UpdateApplicationsPropertyRequest(value=UpdateApplicationsPropertyRequestValue(True)),
        )
    )
    now = values(client.applications_api.get_application_property_values(app_id))
    assert (now[key].value, now[switch].value) == ("blue", "true")


def test_feature_flags(client: ManagementClient) -> None:
    key = f"sdk_flag_{uid()}"
    ok(
        client.feature_flags_api.create_feature_flag(
            CreateFeatureFlagRequest(
                name="SDK flag",
                key=key,
                type="bool",
                default_value="false",
                allow_override_level="usr",
                description="made by the SDK",
            )
        )
    )
    env = flags(client.environments_api.get_environement_feature_flags())
    assert (env[key].type, env[key].value) == ("bool", "false")

    ok(
        client.environments_api.update_environement_feature_flag_override(
            key, UpdateEnvironementFeatureFlagOverrideRequest(value="true")
        )
    )
    assert flags(client.environments_api.get_environement_feature_flags())[key].value == "true"
    ok(client.environments_api.delete_environement_feature_flag_override(key))
    assert flags(client.environments_api.get_environement_feature_flags())[key].value == "false"
    ok(
        client.environments_api.update_environement_feature_flag_override(
            key, UpdateEnvironementFeatureFlagOverrideRequest(value="true")
        )
    )
    ok(client.environments_api.delete_environement_feature_flag_overrides())
    assert flags(client.environments_api.get_environement_feature_flags())[key].value == "false"

    org_code = organization(client)
    ok(client.organizations_api.update_organization_feature_flag_override(org_code, key, "true"))
    org = flags(client.organizations_api.get_organization_feature_flags(org_code))
    assert (org[key].type, org[key].value) == ("bool", "true")
    ok(client.organizations_api.delete_organization_feature_flag_override(org_code, key))
    assert (
        flags(client.organizations_api.get_organization_feature_flags(org_code))[key].value
        == "false"
    )
    ok(client.organizations_api.update_organization_feature_flag_override(org_code, key, "true"))
    ok(client.organizations_api.delete_organization_feature_flag_overrides(org_code))
    assert (
        flags(client.organizations_api.get_organization_feature_flags(org_code))[key].value
        == "false"
    )

    ok(client.users_api.update_user_feature_flag_override(user(client), key, "true"))

    with pytest.raises(BadRequestException) as error:
        client.organizations_api.update_organization_feature_flag_override(org_code, key, "1")
    assert isinstance(error.value.data, ErrorResponse) and error.value.data.errors
    assert error.value.data.errors[0].code == "INVALID_VALUE"

    ok(
        client.feature_flags_api.update_feature_flag(
            key,
            name="SDK flag v2",
            description="now an int",
            type="int",
            allow_override_level="org",
            default_value="3",
        )
    )
    env = flags(client.environments_api.get_environement_feature_flags())
    assert (env[key].type, env[key].value) == ("int", "3")

    ok(client.feature_flags_api.delete_feature_flag(key))
    assert key not in flags(client.environments_api.get_environement_feature_flags())


def test_deprecated_feature_flag_shortcuts(client: ManagementClient) -> None:
    key = f"sdk_short_{uid()}"
    with pytest.warns(DeprecationWarning):
        ok(
            client.create_feature_flag(
                CreateFeatureFlagRequest(name="Short", key=key, type="str", default_value="hi")
            )
        )
    with pytest.warns(DeprecationWarning):
        listed = flags(client.get_feature_flags())
    assert (listed[key].type, listed[key].value) == ("str", "hi")
    with pytest.warns(DeprecationWarning):
        ok(client.update_feature_flag(key, "Short", "d", "str", "env", "bye"))
    with pytest.warns(DeprecationWarning):
        ok(client.delete_feature_flag(key))
