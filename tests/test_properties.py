"""Properties, property categories and property values, against real servers on both engines.

Every operation: the contract's exact 2xx with a contract-valid body, 403 without its
scope, 400 with a specific code on bad input (and nothing written), unknown ids, and
``starting_after``/``ending_before``/``has_more`` paging. Servers are shared by the
whole session, so keys and names are unique and listings are read relative to rows
this test created.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.resources.properties import routes
from tests.contract.contract import load_contract
from tests.support import KindlingServer, error_code, token_for

CONTRACT = load_contract()
BASE = "/api/v1"
OPERATIONS = {(op.method, op.path) for op in routes.router.operations}
EXPECTED = {
    ("GET", "/properties"),
    ("POST", "/properties"),
    ("PUT", "/properties/{property_id}"),
    ("DELETE", "/properties/{property_id}"),
    ("GET", "/property_categories"),
    ("POST", "/property_categories"),
    ("PUT", "/property_categories/{category_id}"),
    ("GET", "/users/{user_id}/properties"),
    ("PATCH", "/users/{user_id}/properties"),
    ("PUT", "/users/{user_id}/properties/{property_key}"),
    ("GET", "/organizations/{org_code}/properties"),
    ("PATCH", "/organizations/{org_code}/properties"),
    ("PUT", "/organizations/{org_code}/properties/{property_key}"),
    ("GET", "/applications/{application_id}/properties"),
    ("PUT", "/applications/{application_id}/properties/{property_key}"),
}


def uid() -> str:
    return uuid.uuid4().hex[:12]


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> str:
    return error_code(resp, status, code)


def contract_status(method: str, template: str) -> int:
    codes = CONTRACT.find(method, BASE + template).success_codes
    assert len(codes) == 1, codes
    return codes[0]


class Api:
    """The Management API of one server, with an all-scopes bearer token."""

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.http = server.client()
        self.token = token_for(server)

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.http.request(method, BASE + path, headers=headers, **kwargs)

    def ok(self, method: str, template: str, path: str | None = None, **kwargs: Any) -> Any:
        """Call; assert the contract's exact 2xx and a contract-valid body; return it."""
        resp = self.request(method, path or template, **kwargs)
        assert resp.status_code == contract_status(method, template), (path, resp.text)
        body = resp.json()
        CONTRACT.validate_response(method, BASE + template, resp.status_code, body)
        return body

    def fails(self, code: str, method: str, path: str, **kwargs: Any) -> None:
        assert_error(self.request(method, path, **kwargs), 400, code)

    # setup shortcuts

    def category(self, context: str = "usr", name: str | None = None) -> str:
        body = self.ok(
            "POST",
            "/property_categories",
            json={"name": name or f"cat-{uid()}", "context": context},
        )
        assert body["code"] == "CATEGORY_CREATED"
        return str(body["category"]["id"])

    def prop(
        self,
        category_id: str,
        context: str = "usr",
        type_: str = "single_line_text",
        key: str | None = None,
        **extra: Any,
    ) -> tuple[str, str]:
        key = key or f"k_{uid()}"
        payload = {
            "name": f"Prop {key}",
            "key": key,
            "type": type_,
            "context": context,
            "is_private": False,
            "category_id": category_id,
            **extra,
        }
        body = self.ok("POST", "/properties", json=payload)
        assert body["code"] == "PROPERTY_CREATED"
        return str(body["property"]["id"]), key

    def user(self) -> str:
        body = self.ok(
            "POST",
            "/user",
            json={"identities": [{"type": "email", "details": {"email": f"p-{uid()}@ex.com"}}]},
        )
        return str(body["id"])

    def organization(self) -> str:
        body = self.ok("POST", "/organization", json={"name": f"org-{uid()}"})
        return str(body["organization"]["code"])

    def application(self) -> str:
        body = self.ok("POST", "/applications", json={"name": f"app-{uid()}", "type": "m2m"})
        return str(body["application"]["id"])

    def properties(self, **params: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.ok("GET", "/properties", params=params)
        return body

    def values(self, template: str, path: str) -> dict[str, dict[str, Any]]:
        body = self.ok("GET", template, path)
        assert body["code"] == "OK"
        assert "next_token" not in body
        return {item["key"]: item for item in body["properties"]}

    def all_properties(self, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query = dict(params, page_size=500)
        for _ in range(100):
            body = self.properties(**query)
            items += body["properties"]
            if not body["has_more"]:
                return items
            query["starting_after"] = body["properties"][-1]["id"]
        raise AssertionError("paging did not end")


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


# --- the routes versus the contract ------------------------------------------------


def test_routes_match_the_contract() -> None:
    assert OPERATIONS == EXPECTED
    assert len(routes.router.operations) == len(EXPECTED)
    for op in routes.router.operations:
        spec = CONTRACT.find(op.method, BASE + op.path)
        assert op.scope == spec.scope, op
        assert [op.status] == list(spec.success_codes), op
        assert op.operation_id == spec.operation_id, op
        assert op.tag == spec.tag, op
        declared = {(p.name, p.required) for p in op.query}
        assert declared == {
            (p["name"], p["required"]) for p in spec.parameters if p["in"] == "query"
        }, op
        assert op.body == (spec.request_body is not None), op
        assert not op.declared_errors - set(spec.error_codes), op


# --- categories ----------------------------------------------------------------------


def _all_categories(api: Api, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query = dict(params, page_size=500)
    for _ in range(100):
        body = api.ok("GET", "/property_categories", params=query)
        assert body["code"] == "OK"
        items += body["categories"]
        if not body["has_more"]:
            return items
        query["starting_after"] = body["categories"][-1]["id"]
    raise AssertionError("paging did not end")


def test_category_create_list_update(api: Api) -> None:
    name = f"Cat {uid()}"
    usr = api.category("usr", name)
    org = api.category("org")
    app = api.category("app")
    assert usr.startswith("cat_") and len({usr, org, app}) == 3

    users_only = {c["id"]: c for c in _all_categories(api, context="usr")}
    assert users_only[usr] == {"id": usr, "name": name}
    assert org not in users_only and app not in users_only
    assert org in {c["id"] for c in _all_categories(api, context="org")}
    everything = {c["id"] for c in _all_categories(api)}
    assert {usr, org, app} <= everything

    renamed = f"Renamed {uid()}"
    body = api.ok(
        "PUT",
        "/property_categories/{category_id}",
        f"/property_categories/{usr}",
        json={"name": renamed},
    )
    assert body["code"] == "CATEGORY_UPDATED"
    assert {c["id"]: c["name"] for c in _all_categories(api, context="usr")}[usr] == renamed
    # No name: nothing to change, still 200.
    api.ok("PUT", "/property_categories/{category_id}", f"/property_categories/{usr}", json={})
    assert {c["id"]: c["name"] for c in _all_categories(api, context="usr")}[usr] == renamed


def test_category_bad_input_writes_nothing(api: Api) -> None:
    name = f"Bad {uid()}"
    api.fails("NAME_REQUIRED", "POST", "/property_categories", json={"context": "usr"})
    api.fails("NAME_REQUIRED", "POST", "/property_categories", json={"name": " ", "context": "usr"})
    api.fails("INVALID_NAME", "POST", "/property_categories", json={"name": 5, "context": "usr"})
    api.fails(
        "NAME_TOO_LONG", "POST", "/property_categories", json={"name": "x" * 65, "context": "usr"}
    )
    api.fails("CONTEXT_REQUIRED", "POST", "/property_categories", json={"name": name})
    api.fails(
        "INVALID_CONTEXT", "POST", "/property_categories", json={"name": name, "context": "env"}
    )
    api.fails("INVALID_JSON", "POST", "/property_categories", content=b"{nope")
    api.fails("BODY_REQUIRED", "POST", "/property_categories")
    assert name not in {c["name"] for c in _all_categories(api)}

    usr = api.category("usr", name)
    api.fails(
        "CATEGORY_NOT_FOUND",
        "PUT",
        "/property_categories/cat_missing",
        json={"name": "whatever"},
    )
    api.fails("NAME_TOO_LONG", "PUT", f"/property_categories/{usr}", json={"name": "y" * 65})
    api.fails("INVALID_NAME", "PUT", f"/property_categories/{usr}", json={"name": ["x"]})
    assert {c["id"]: c["name"] for c in _all_categories(api, context="usr")}[usr] == name


def test_category_listing_filters_and_pages(api: Api) -> None:
    first = api.category("org")
    made = [api.category("org") for _ in range(4)]
    api.category("usr")  # interleaved, filtered out below
    page = api.ok(
        "GET",
        "/property_categories",
        params={"context": "org", "starting_after": first, "page_size": 3},
    )
    assert [c["id"] for c in page["categories"]] == made[:3] and page["has_more"] is True
    rest = api.ok(
        "GET",
        "/property_categories",
        params={"context": "org", "starting_after": made[2], "page_size": 3},
    )
    assert [c["id"] for c in rest["categories"]] == made[3:] and rest["has_more"] is False
    back = api.ok(
        "GET",
        "/property_categories",
        params={"context": "org", "ending_before": made[3], "page_size": 2},
    )
    assert [c["id"] for c in back["categories"]] == made[1:3] and back["has_more"] is True
    # The category filter follows Kinde's enum (usr, org).
    api.fails("INVALID_CONTEXT", "GET", "/property_categories", params={"context": "app"})
    api.fails(
        "INVALID_PAGINATION",
        "GET",
        "/property_categories",
        params={"starting_after": first, "ending_before": made[0]},
    )
    api.fails(
        "INVALID_STARTING_AFTER", "GET", "/property_categories", params={"starting_after": "x"}
    )
    api.fails("INVALID_ENDING_BEFORE", "GET", "/property_categories", params={"ending_before": "x"})
    api.fails("PAGE_SIZE_LIMIT_EXCEEDED", "GET", "/property_categories", params={"page_size": 501})


# --- property definitions ------------------------------------------------------------


def test_property_create_list_update_delete(api: Api) -> None:
    category = api.category("usr")
    other = api.category("usr")
    key = f"city_{uid()}"
    body = api.ok(
        "POST",
        "/properties",
        json={
            "name": "City",
            "key": key,
            "type": "single_line_text",
            "context": "usr",
            "is_private": True,
            "category_id": category,
            "description": "Where they live",
        },
    )
    assert body["code"] == "PROPERTY_CREATED"
    prop_id = body["property"]["id"]
    assert prop_id.startswith("prop_") and len(prop_id) == 37

    listed = {p["id"]: p for p in api.all_properties(context="usr")}
    assert listed[prop_id] == {
        "id": prop_id,
        "key": key,
        "name": "City",
        "is_private": True,
        "description": "Where they live",
        "is_kinde_property": False,
    }
    assert prop_id not in {p["id"] for p in api.all_properties(context="org")}

    body = api.ok(
        "PUT",
        "/properties/{property_id}",
        f"/properties/{prop_id}",
        json={"name": "Town", "is_private": False, "category_id": other},
    )
    assert body["code"] == "PROPERTY_UPDATED"
    updated = {p["id"]: p for p in api.all_properties(context="usr")}[prop_id]
    assert updated["name"] == "Town" and updated["is_private"] is False
    assert updated["description"] == "Where they live"  # not sent: kept
    api.ok(
        "PUT",
        "/properties/{property_id}",
        f"/properties/{prop_id}",
        json={"name": "Town", "is_private": False, "category_id": other, "description": None},
    )
    cleared = {p["id"]: p for p in api.all_properties(context="usr")}[prop_id]
    assert "description" not in cleared  # non-nullable in the contract: omitted

    body = api.ok("DELETE", "/properties/{property_id}", f"/properties/{prop_id}")
    assert body["code"] == "PROPERTY_DELETED"
    assert prop_id not in {p["id"] for p in api.all_properties()}
    api.fails("PROPERTY_NOT_FOUND", "DELETE", f"/properties/{prop_id}")
    api.fails(
        "PROPERTY_NOT_FOUND",
        "PUT",
        f"/properties/{prop_id}",
        json={"name": "x", "is_private": False, "category_id": other},
    )
    # The key is free again.
    api.prop(category, key=key)


def _valid(category: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Valid",
        "key": f"k_{uid()}",
        "type": "multi_line_text",
        "context": "org",
        "is_private": False,
        "category_id": category,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def test_property_bad_input_writes_nothing(api: Api) -> None:
    org_cat = api.category("org")
    usr_cat = api.category("usr")
    key = f"bad_{uid()}"
    cases: list[tuple[str, dict[str, Any]]] = [
        ("NAME_REQUIRED", {"name": ...}),
        ("NAME_TOO_LONG", {"name": "n" * 65}),
        ("KEY_REQUIRED", {"key": ...}),
        ("INVALID_KEY", {"key": "has space"}),
        ("INVALID_KEY", {"key": "a/b"}),
        ("INVALID_KEY", {"key": ".hidden"}),
        ("INVALID_KEY", {"key": 12}),
        ("KEY_TOO_LONG", {"key": "k" * 129}),
        ("TYPE_REQUIRED", {"type": ...}),
        ("INVALID_TYPE", {"type": "number"}),
        ("CONTEXT_REQUIRED", {"context": ...}),
        ("INVALID_CONTEXT", {"context": "env"}),
        ("IS_PRIVATE_REQUIRED", {"is_private": ...}),
        ("INVALID_IS_PRIVATE", {"is_private": "true"}),
        ("CATEGORY_ID_REQUIRED", {"category_id": ...}),
        ("CATEGORY_NOT_FOUND", {"category_id": "cat_missing"}),
        ("CATEGORY_CONTEXT_MISMATCH", {"category_id": usr_cat}),
        ("DESCRIPTION_TOO_LONG", {"description": "d" * 256}),
    ]
    for code, change in cases:
        payload = _valid(org_cat, **change)
        if "key" not in change:
            payload["key"] = key
        api.fails(code, "POST", "/properties", json=payload)
    # Nothing was written: the key is still free, and then it is taken.
    api.ok("POST", "/properties", json=_valid(org_cat, key=key))
    api.fails("PROPERTY_KEY_EXISTS", "POST", "/properties", json=_valid(org_cat, key=key))
    assert [p["key"] for p in api.all_properties(context="org")].count(key) == 1


def test_property_update_bad_input_changes_nothing(api: Api) -> None:
    org_cat = api.category("org")
    usr_cat = api.category("usr")
    prop_id, _ = api.prop(org_cat, context="org", description="kept")
    path = f"/properties/{prop_id}"
    good = {"name": "Renamed", "is_private": True, "category_id": org_cat}
    changes: list[tuple[str, dict[str, Any]]] = [
        ("NAME_REQUIRED", {"name": None}),
        ("IS_PRIVATE_REQUIRED", {"is_private": None}),
        ("INVALID_IS_PRIVATE", {"is_private": 1}),
        ("CATEGORY_ID_REQUIRED", {"category_id": None}),
        ("CATEGORY_NOT_FOUND", {"category_id": "cat_nope"}),
        ("CATEGORY_CONTEXT_MISMATCH", {"category_id": usr_cat}),
        ("DESCRIPTION_TOO_LONG", {"description": "d" * 256}),
    ]
    for code, change in changes:
        api.fails(code, "PUT", path, json={**good, **change})
    item = {p["id"]: p for p in api.all_properties(context="org")}[prop_id]
    assert item["name"] != "Renamed" and item["is_private"] is False
    assert item["description"] == "kept"


def test_property_paging(api: Api) -> None:
    app_cat = api.category("app")
    usr_cat = api.category("usr")
    marker, _ = api.prop(app_cat, context="app")
    made = []
    for _ in range(5):
        made.append(api.prop(app_cat, context="app")[0])
        api.prop(usr_cat, context="usr")  # interleaved, filtered out
    first = api.properties(context="app", starting_after=marker, page_size=2)
    assert [p["id"] for p in first["properties"]] == made[:2] and first["has_more"] is True
    second = api.properties(context="app", starting_after=made[1], page_size=2)
    assert [p["id"] for p in second["properties"]] == made[2:4] and second["has_more"] is True
    last = api.properties(context="app", starting_after=made[3], page_size=2)
    assert [p["id"] for p in last["properties"]] == made[4:] and last["has_more"] is False
    back = api.properties(context="app", ending_before=made[4], page_size=3)
    assert [p["id"] for p in back["properties"]] == made[1:4] and back["has_more"] is True
    start = api.properties(context="app", ending_before=made[0], page_size=1)
    assert [p["id"] for p in start["properties"]] == [marker]
    # Unfiltered, both contexts interleave; the default page size is 10.
    mixed = api.properties(starting_after=marker)
    assert len(mixed["properties"]) == 10 and mixed["has_more"] is False
    assert [p["id"] for p in mixed["properties"]][0::2] == made
    for code, params in [
        ("INVALID_PAGINATION", {"starting_after": marker, "ending_before": made[0]}),
        ("INVALID_STARTING_AFTER", {"starting_after": "prop_missing"}),
        ("INVALID_ENDING_BEFORE", {"ending_before": "prop_missing"}),
        ("INVALID_CONTEXT", {"context": "team"}),
        ("PAGE_SIZE_LIMIT_EXCEEDED", {"page_size": 501}),
        ("INVALID_PAGE_SIZE", {"page_size": 0}),
        ("INVALID_PAGE_SIZE", {"page_size": "ten"}),
    ]:
        api.fails(code, "GET", "/properties", params=params)


# --- values ----------------------------------------------------------------------------

USER_VALUES = "/users/{user_id}/properties"
USER_VALUE = "/users/{user_id}/properties/{property_key}"
ORG_VALUES = "/organizations/{org_code}/properties"
ORG_VALUE = "/organizations/{org_code}/properties/{property_key}"
APP_VALUES = "/applications/{application_id}/properties"
APP_VALUE = "/applications/{application_id}/properties/{property_key}"


def test_user_property_values(api: Api) -> None:
    category = api.category("usr")
    org_category = api.category("org")
    line_id, line = api.prop(category, description="one line")
    text_id, text = api.prop(category, type_="multi_line_text")
    _, org_key = api.prop(org_category, context="org")
    user = api.user()
    path = f"/users/{user}/properties"

    values = api.values(USER_VALUES, path)
    assert values[line] == {
        "id": line_id,
        "key": line,
        "name": f"Prop {line}",
        "description": "one line",
        "value": None,
    }
    assert values[text]["value"] is None and values[text]["description"] is None
    assert org_key not in values  # only user properties are listed

    body = api.ok(
        "PATCH", USER_VALUES, path, json={"properties": {line: "Sydney", text: "a\nb\tc"}}
    )
    assert body["code"] == "PROPERTIES_UPDATED"
    values = api.values(USER_VALUES, path)
    assert (values[line]["value"], values[text]["value"]) == ("Sydney", "a\nb\tc")
    assert values[text]["id"] == text_id

    body = api.ok("PUT", USER_VALUE, f"{path}/{line}", params={"value": "Perth"})
    assert body["code"] == "PROPERTY_UPDATED"
    assert api.values(USER_VALUES, path)[line]["value"] == "Perth"
    api.ok("PUT", USER_VALUE, f"{path}/{line}", params={"value": ""})
    assert api.values(USER_VALUES, path)[line]["value"] == ""

    # Booleans and numbers are stored as their JSON text; null removes a value.
    api.ok("PATCH", USER_VALUES, path, json={"properties": {line: True, text: 12.5}})
    values = api.values(USER_VALUES, path)
    assert (values[line]["value"], values[text]["value"]) == ("true", "12.5")
    api.ok("PATCH", USER_VALUES, path, json={"properties": {line: None}})
    values = api.values(USER_VALUES, path)
    assert values[line]["value"] is None and values[text]["value"] == "12.5"

    # Another user is untouched.
    assert api.values(USER_VALUES, f"/users/{api.user()}/properties")[text]["value"] is None


def test_user_property_values_bad_input_is_all_or_nothing(api: Api) -> None:
    category = api.category("usr")
    org_category = api.category("org")
    _, line = api.prop(category)
    _, text = api.prop(category, type_="multi_line_text")
    _, org_key = api.prop(org_category, context="org")
    user = api.user()
    path = f"/users/{user}/properties"
    api.ok("PATCH", USER_VALUES, path, json={"properties": {line: "before", text: "before"}})

    for code, properties in [
        ("PROPERTY_NOT_FOUND", {line: "after", "no_such_key_" + uid(): "x"}),
        ("PROPERTY_CONTEXT_MISMATCH", {line: "after", org_key: "x"}),
        ("INVALID_PROPERTY_VALUE", {line: "two\nlines"}),
        ("INVALID_PROPERTY_VALUE", {text: "after", line: {"nested": 1}}),
        ("INVALID_PROPERTY_VALUE", {text: ["a"]}),
        ("INVALID_PROPERTY_VALUE", {text: "nul\x00"}),
        ("PROPERTY_VALUE_TOO_LONG", {text: "after", line: "x" * 256}),
        ("PROPERTY_VALUE_TOO_LONG", {text: "x" * 4001}),
        ("PROPERTIES_REQUIRED", {}),
        ("TOO_MANY_PROPERTIES", {f"k{i}": "v" for i in range(101)}),
    ]:
        api.fails(code, "PATCH", path, json={"properties": properties})
    api.fails("PROPERTIES_REQUIRED", "PATCH", path, json={})
    api.fails("INVALID_PROPERTIES", "PATCH", path, json={"properties": [line]})
    api.fails("INVALID_PROPERTIES", "PATCH", path, json={"properties": "x"})
    api.fails("BODY_REQUIRED", "PATCH", path)
    api.fails("VALUE_REQUIRED", "PUT", f"{path}/{line}")
    api.fails("INVALID_PROPERTY_VALUE", "PUT", f"{path}/{line}", params={"value": "a\nb"})
    api.fails("PROPERTY_NOT_FOUND", "PUT", f"{path}/missing_{uid()}", params={"value": "x"})
    api.fails("PROPERTY_CONTEXT_MISMATCH", "PUT", f"{path}/{org_key}", params={"value": "x"})
    values = api.values(USER_VALUES, path)
    assert (values[line]["value"], values[text]["value"]) == ("before", "before")

    # 100 keys is the limit, not an error in itself (here: unknown keys).
    many = {f"unknown_{uid()}_{i}": "v" for i in range(100)}
    api.fails("PROPERTY_NOT_FOUND", "PATCH", path, json={"properties": many})

    missing = "kp_" + "0" * 32
    api.fails("USER_NOT_FOUND", "GET", f"/users/{missing}/properties")
    api.fails(
        "USER_NOT_FOUND", "PATCH", f"/users/{missing}/properties", json={"properties": {line: "x"}}
    )
    api.fails("USER_NOT_FOUND", "PUT", f"/users/{missing}/properties/{line}", params={"value": "x"})


def test_deleting_a_property_or_user_removes_values(api: Api) -> None:
    category = api.category("usr")
    prop_id, key = api.prop(category)
    user = api.user()
    path = f"/users/{user}/properties"
    api.ok("PUT", USER_VALUE, f"{path}/{key}", params={"value": "kept?"})
    api.ok("DELETE", "/properties/{property_id}", f"/properties/{prop_id}")
    assert key not in api.values(USER_VALUES, path)
    new_id, _ = api.prop(category, key=key)
    again = api.values(USER_VALUES, path)[key]
    assert again["id"] == new_id and again["value"] is None

    api.ok("PUT", USER_VALUE, f"{path}/{key}", params={"value": "v"})
    api.ok("DELETE", "/user", params={"id": user})
    api.fails("USER_NOT_FOUND", "GET", path)
    # The property itself outlives the user.
    assert new_id in {p["id"] for p in api.all_properties(context="usr")}


def test_organization_property_values(api: Api) -> None:
    category = api.category("org")
    usr_category = api.category("usr")
    line_id, line = api.prop(category, context="org")
    _, text = api.prop(category, context="org", type_="multi_line_text")
    _, usr_key = api.prop(usr_category)
    org = api.organization()
    path = f"/organizations/{org}/properties"

    values = api.values(ORG_VALUES, path)
    assert values[line]["id"] == line_id and values[line]["value"] is None
    assert usr_key not in values

    body = api.ok("PATCH", ORG_VALUES, path, json={"properties": {line: "HQ", text: "x\ny"}})
    assert body["code"] == "PROPERTIES_UPDATED"
    values = api.values(ORG_VALUES, path)
    assert (values[line]["value"], values[text]["value"]) == ("HQ", "x\ny")
    api.ok("PUT", ORG_VALUE, f"{path}/{line}", params={"value": "Branch"})
    assert api.values(ORG_VALUES, path)[line]["value"] == "Branch"

    api.fails(
        "PROPERTY_CONTEXT_MISMATCH", "PATCH", path, json={"properties": {line: "z", usr_key: "z"}}
    )
    api.fails("PROPERTY_NOT_FOUND", "PATCH", path, json={"properties": {f"nope_{uid()}": "z"}})
    api.fails("VALUE_REQUIRED", "PUT", f"{path}/{line}")
    assert api.values(ORG_VALUES, path)[line]["value"] == "Branch"

    api.fails("ORGANIZATION_NOT_FOUND", "GET", "/organizations/org_00000000000/properties")
    api.fails(
        "ORGANIZATION_NOT_FOUND",
        "PATCH",
        "/organizations/org_00000000000/properties",
        json={"properties": {line: "x"}},
    )
    api.fails(
        "ORGANIZATION_NOT_FOUND",
        "PUT",
        f"/organizations/org_00000000000/properties/{line}",
        params={"value": "x"},
    )


def test_application_property_values(api: Api) -> None:
    category = api.category("app")
    prop_id, key = api.prop(category, context="app")
    _, flag = api.prop(category, context="app")
    usr_category = api.category("usr")
    _, usr_key = api.prop(usr_category)
    app = api.application()
    path = f"/applications/{app}/properties"

    values = api.values(APP_VALUES, path)
    assert values[key]["id"] == prop_id and values[key]["value"] is None
    assert usr_key not in values

    body = api.ok("PUT", APP_VALUE, f"{path}/{key}", json={"value": "blue"})
    assert body["code"] == "PROPERTY_UPDATED"
    api.ok("PUT", APP_VALUE, f"{path}/{flag}", json={"value": True})
    values = api.values(APP_VALUES, path)
    assert (values[key]["value"], values[flag]["value"]) == ("blue", "true")

    api.fails("VALUE_REQUIRED", "PUT", f"{path}/{key}", json={})
    api.fails("VALUE_REQUIRED", "PUT", f"{path}/{key}", json={"value": None})
    api.fails("INVALID_VALUE", "PUT", f"{path}/{key}", json={"value": 3})
    api.fails("INVALID_PROPERTY_VALUE", "PUT", f"{path}/{key}", json={"value": "a\nb"})
    api.fails("PROPERTY_CONTEXT_MISMATCH", "PUT", f"{path}/{usr_key}", json={"value": "x"})
    api.fails("PROPERTY_NOT_FOUND", "PUT", f"{path}/none_{uid()}", json={"value": "x"})
    assert api.values(APP_VALUES, path)[key]["value"] == "blue"

    missing = "f" * 32
    api.fails("APPLICATION_NOT_FOUND", "GET", f"/applications/{missing}/properties")
    api.fails(
        "APPLICATION_NOT_FOUND",
        "PUT",
        f"/applications/{missing}/properties/{key}",
        json={"value": "x"},
    )


# --- scopes ------------------------------------------------------------------------------


def _concrete(path: str) -> str:
    return (
        path.replace("{property_id}", "prop_0")
        .replace("{category_id}", "cat_0")
        .replace("{user_id}", "kp_0")
        .replace("{org_code}", "org_0")
        .replace("{application_id}", "0" * 32)
        .replace("{property_key}", "some_key")
    )


@pytest.mark.parametrize("op", routes.router.operations, ids=lambda op: f"{op.method} {op.path}")
def test_token_without_the_scope_is_forbidden(api: Api, op: Any) -> None:
    others = [s for s in MANAGEMENT_API_SCOPES if s != op.scope]
    narrow = token_for(api.server, others)
    assert op.scope not in jwt.decode(narrow, options={"verify_signature": False})["scp"]
    kwargs: dict[str, Any] = {"params": {"value": "x"}}
    if op.body:
        kwargs["json"] = {"name": f"forbidden-{uid()}", "context": "usr", "value": "x"}
    resp = api.request(op.method, _concrete(op.path), token=narrow, **kwargs)
    assert_error(resp, 403, "INSUFFICIENT_SCOPE")
    assert f'scope="{op.scope}"' in resp.headers["www-authenticate"]
    if op.method == "POST":
        # The refused create wrote nothing.
        names = {c["name"] for c in _all_categories(api)}
        assert kwargs["json"]["name"] not in names
    allowed = api.request(op.method, _concrete(op.path), **kwargs)
    assert allowed.status_code != 403, allowed.text


def test_concurrent_creates_of_one_key_make_one_property(api: Api) -> None:
    category = api.category("usr")
    key = f"race_{uid()}"
    payload = _valid(category, key=key, context="usr")
    statuses: list[int] = []
    errors: list[str] = []

    def create() -> None:
        with api.server.client() as http:
            resp = http.post(
                BASE + "/properties",
                json=payload,
                headers={"Authorization": f"Bearer {api.token}"},
            )
        statuses.append(resp.status_code)
        if resp.status_code != 201:
            errors.append(resp.json()["errors"][0]["code"])

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [400] * 7
    assert errors == ["PROPERTY_KEY_EXISTS"] * 7
    assert [p["key"] for p in api.all_properties(context="usr")].count(key) == 1
