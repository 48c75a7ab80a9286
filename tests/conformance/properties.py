"""Conformance builders of the ``properties`` resource: property definitions, property
categories, and property values of users, organizations and applications."""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder, uid


def category(w: World, context: str) -> str:
    body = w.ok(
        "CreateCategory",
        Req("/property_categories", json={"name": f"Cat {uid()}", "context": context}),
        "create a property category",
    )
    return str(body["category"]["id"])


def prop(w: World, context: str) -> tuple[str, str]:
    key = f"conf_prop_{uid()}"
    body = w.ok(
        "CreateProperty",
        Req(
            "/properties",
            json={
                "name": f"Prop {key}",
                "key": key,
                "type": "single_line_text",
                "context": context,
                "is_private": False,
                "category_id": category(w, context),
                "description": "conformance",
            },
        ),
        f"create a property ({context})",
    )
    return str(body["property"]["id"]), key


@builder("GetProperties")
def _get_properties(w: World) -> Req:
    if w.has("CreateProperty"):
        prop(w, "usr")
    return Req("/properties", params={"context": "usr", "page_size": 5})


@builder("CreateProperty")
def _create_property(w: World) -> Req:
    key = f"conf_prop_{uid()}"

    def check(body: Any) -> None:
        assert body["property"]["id"], body

    return Req(
        "/properties",
        json={
            "name": f"Prop {key}",
            "key": key,
            "type": "single_line_text",
            "context": "org",
            "is_private": False,
            "category_id": category(w, "org"),
            "description": "d",
        },
        check=check,
    )


@builder("UpdateProperty")
def _update_property(w: World) -> Req:
    property_id, key = prop(w, "usr")
    return Req(
        f"/properties/{property_id}",
        json={
            "name": f"Renamed {key}",
            "description": "r",
            "is_private": True,
            "category_id": category(w, "usr"),
        },
    )


@builder("DeleteProperty")
def _delete_property(w: World) -> Req:
    return Req(f"/properties/{prop(w, 'usr')[0]}")


@builder("GetCategories")
def _get_categories(w: World) -> Req:
    if w.has("CreateCategory"):
        category(w, "usr")
    return Req("/property_categories", params={"context": "usr", "page_size": 5})


@builder("CreateCategory")
def _create_category(w: World) -> Req:
    def check(body: Any) -> None:
        assert body["category"]["id"], body

    return Req("/property_categories", json={"name": f"Cat {uid()}", "context": "usr"}, check=check)


@builder("UpdateCategory")
def _update_category(w: World) -> Req:
    return Req(f"/property_categories/{category(w, 'org')}", json={"name": f"Renamed {uid()}"})


@builder("GetUserPropertyValues")
def _get_user_property_values(w: World) -> Req:
    if w.has("CreateProperty"):
        prop(w, "usr")
    return Req(f"/users/{w.user()}/properties")


@builder("UpdateUserProperties")
def _update_user_properties(w: World) -> Req:
    _, key = prop(w, "usr")
    return Req(f"/users/{w.user()}/properties", json={"properties": {key: "blue"}})


@builder("UpdateUserProperty")
def _update_user_property(w: World) -> Req:
    _, key = prop(w, "usr")
    return Req(f"/users/{w.user()}/properties/{key}", params={"value": "green"})


@builder("GetOrganizationPropertyValues")
def _get_organization_property_values(w: World) -> Req:
    if w.has("CreateProperty"):
        prop(w, "org")
    return Req(f"/organizations/{w.org()}/properties")


@builder("UpdateOrganizationProperties")
def _update_organization_properties(w: World) -> Req:
    _, key = prop(w, "org")
    return Req(f"/organizations/{w.org()}/properties", json={"properties": {key: "north"}})


@builder("UpdateOrganizationProperty")
def _update_organization_property(w: World) -> Req:
    _, key = prop(w, "org")
    return Req(f"/organizations/{w.org()}/properties/{key}", params={"value": "south"})


@builder("getApplicationPropertyValues")
def _get_application_property_values(w: World) -> Req:
    return Req(f"/applications/{w.app()}/properties")


@builder("updateApplicationsProperty")
def _update_applications_property(w: World) -> Req:
    _, key = prop(w, "app")
    return Req(f"/applications/{w.app()}/properties/{key}", json={"value": "teal"})
