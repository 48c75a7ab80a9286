"""Feature flags and their environment, organization and user overrides, on both engines.

Values are JSON strings that must parse as the flag's type; ``allow_override_level``
decides who may override; an organization sees its override, else the environment's
override, else the default. Every operation is also checked for its contract status and
body, and for 403 without its scope. Flags are unique per test (uuid keys); listings are
maps, so each test looks only at its own keys.
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
from kindling.resources.feature_flags import routes
from tests.contract.contract import load_contract
from tests.support import KindlingServer, error_code, token_for

CONTRACT = load_contract()
BASE = "/api/v1"
EXPECTED = {
    ("POST", "/feature_flags"),
    ("PUT", "/feature_flags/{feature_flag_key}"),
    ("DELETE", "/feature_flags/{feature_flag_key}"),
    ("GET", "/environment/feature_flags"),
    ("DELETE", "/environment/feature_flags"),
    ("PATCH", "/environment/feature_flags/{feature_flag_key}"),
    ("DELETE", "/environment/feature_flags/{feature_flag_key}"),
    ("GET", "/organizations/{org_code}/feature_flags"),
    ("DELETE", "/organizations/{org_code}/feature_flags"),
    ("PATCH", "/organizations/{org_code}/feature_flags/{feature_flag_key}"),
    ("DELETE", "/organizations/{org_code}/feature_flags/{feature_flag_key}"),
    ("PATCH", "/users/{user_id}/feature_flags/{feature_flag_key}"),
}
ENV = "/environment/feature_flags"
ENV_ONE = "/environment/feature_flags/{feature_flag_key}"
FLAG = "/feature_flags/{feature_flag_key}"
ORG = "/organizations/{org_code}/feature_flags"
ORG_ONE = "/organizations/{org_code}/feature_flags/{feature_flag_key}"
USER_ONE = "/users/{user_id}/feature_flags/{feature_flag_key}"


def uid() -> str:
    return uuid.uuid4().hex[:12]


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> str:
    return error_code(resp, status, code)


class Api:
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
        resp = self.request(method, path or template, **kwargs)
        codes = CONTRACT.find(method, BASE + template).success_codes
        assert (resp.status_code,) == codes, (path, resp.text)
        body = resp.json()
        CONTRACT.validate_response(method, BASE + template, resp.status_code, body)
        return body

    def fails(self, code: str, method: str, path: str, **kwargs: Any) -> None:
        assert_error(self.request(method, path, **kwargs), 400, code)

    def flag(
        self, type_: str = "bool", default: str = "false", level: str | None = None, **extra: Any
    ) -> str:
        key = f"ff_{uid()}"
        payload: dict[str, Any] = {
            "name": f"Flag {key}",
            "key": key,
            "type": type_,
            "default_value": default,
            **extra,
        }
        if level is not None:
            payload["allow_override_level"] = level
        body = self.ok("POST", "/feature_flags", json=payload)
        assert body == {"code": "FEATURE_FLAG_CREATED", "message": "Feature flag created"}
        return key

    def env(self) -> dict[str, dict[str, str]]:
        body = self.ok("GET", ENV)
        assert body["code"] == "OK" and "next_token" not in body
        flags: dict[str, dict[str, str]] = body["feature_flags"]
        for item in flags.values():
            assert set(item) == {"type", "value"} and isinstance(item["value"], str)
        return flags

    def org_flags(self, org: str) -> dict[str, dict[str, str]]:
        body = self.ok("GET", ORG, f"/organizations/{org}/feature_flags")
        assert body["code"] == "OK"
        flags: dict[str, dict[str, str]] = body["feature_flags"]
        return flags

    def organization(self) -> str:
        body = self.ok("POST", "/organization", json={"name": f"org-{uid()}"})
        return str(body["organization"]["code"])

    def user(self) -> str:
        body = self.ok(
            "POST",
            "/user",
            json={"identities": [{"type": "email", "details": {"email": f"f-{uid()}@ex.com"}}]},
        )
        return str(body["id"])

    def put(self, key: str, **params: str) -> Any:
        return self.ok("PUT", FLAG, f"/feature_flags/{key}", params=params)


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def test_routes_match_the_contract() -> None:
    assert {(op.method, op.path) for op in routes.router.operations} == EXPECTED
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


# --- definitions -------------------------------------------------------------------------


def test_create_flags_of_each_type(api: Api) -> None:
    on = api.flag("bool", "true", description="A switch")
    count = api.flag("int", "-42", level="org")
    text = api.flag("str", "hello world", level="usr")
    empty = api.flag("str", "")
    padded = api.flag("int", "007")
    flags = api.env()
    assert flags[on] == {"type": "bool", "value": "true"}
    assert flags[count] == {"type": "int", "value": "-42"}
    assert flags[text] == {"type": "str", "value": "hello world"}
    assert flags[empty] == {"type": "str", "value": ""}
    assert flags[padded] == {"type": "int", "value": "7"}  # stored canonically


def test_create_bad_input_writes_nothing(api: Api) -> None:
    key = f"ff_bad_{uid()}"
    good: dict[str, Any] = {"name": "Bad", "key": key, "type": "bool", "default_value": "false"}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("NAME_REQUIRED", {"name": None}),
        ("NAME_TOO_LONG", {"name": "n" * 65}),
        ("KEY_REQUIRED", {"key": None}),
        ("INVALID_KEY", {"key": "two words"}),
        ("TYPE_REQUIRED", {"type": None}),
        ("INVALID_TYPE", {"type": "float"}),
        ("DEFAULT_VALUE_REQUIRED", {"default_value": None}),
        ("INVALID_DEFAULT_VALUE", {"default_value": "yes"}),
        ("INVALID_DEFAULT_VALUE", {"default_value": "True"}),
        ("INVALID_DEFAULT_VALUE", {"default_value": False}),
        ("INVALID_DEFAULT_VALUE", {"type": "int", "default_value": "4.2"}),
        ("INVALID_DEFAULT_VALUE", {"type": "int", "default_value": "9223372036854775808"}),
        ("INVALID_DEFAULT_VALUE", {"type": "int", "default_value": 3}),
        ("INVALID_DEFAULT_VALUE", {"type": "int", "default_value": ""}),
        ("DEFAULT_VALUE_TOO_LONG", {"type": "str", "default_value": "s" * 1025}),
        ("INVALID_DEFAULT_VALUE", {"type": "str", "default_value": "nul\x00"}),
        ("INVALID_ALLOW_OVERRIDE_LEVEL", {"allow_override_level": "team"}),
        ("DESCRIPTION_TOO_LONG", {"description": "d" * 256}),
    ]
    for code, change in cases:
        payload = {k: v for k, v in {**good, **change}.items() if v is not None}
        api.fails(code, "POST", "/feature_flags", json=payload)
    api.fails("BODY_REQUIRED", "POST", "/feature_flags")
    assert key not in api.env()
    api.ok(
        "POST",
        "/feature_flags",
        json={**good, "type": "int", "default_value": "-9223372036854775808"},
    )
    assert api.env()[key] == {"type": "int", "value": "-9223372036854775808"}
    api.fails("FEATURE_FLAG_EXISTS", "POST", "/feature_flags", json=good)
    assert api.env()[key]["type"] == "int"


def test_update_replaces_the_definition(api: Api) -> None:
    key = api.flag("bool", "false", level="org")
    body = api.put(
        key,
        name="Renamed",
        description="Now an int",
        type="int",
        allow_override_level="org",
        default_value="10",
    )
    assert body == {"code": "FEATURE_FLAG_UPDATED", "message": "Feature flag updated"}
    assert api.env()[key] == {"type": "int", "value": "10"}
    # Kinde's enum for PUT is env|org; usr is accepted too.
    api.put(
        key, name="R", description="", type="int", allow_override_level="usr", default_value="11"
    )
    assert api.env()[key] == {"type": "int", "value": "11"}


def test_update_bad_input_changes_nothing(api: Api) -> None:
    key = api.flag("int", "5")
    good = {
        "name": "N",
        "description": "D",
        "type": "int",
        "allow_override_level": "env",
        "default_value": "6",
    }
    path = f"/feature_flags/{key}"
    for missing in good:
        params = {k: v for k, v in good.items() if k != missing}
        api.fails(f"{missing.upper()}_REQUIRED", "PUT", path, params=params)
    changes: list[tuple[str, dict[str, Any]]] = [
        ("INVALID_TYPE", {"type": "float"}),
        ("INVALID_ALLOW_OVERRIDE_LEVEL", {"allow_override_level": "all"}),
        ("INVALID_DEFAULT_VALUE", {"default_value": "six"}),
        ("INVALID_DEFAULT_VALUE", {"type": "bool", "default_value": "6"}),
        ("NAME_REQUIRED", {"name": ""}),
        ("REPEATED_PARAMETER", {"name": ["a", "b"]}),
    ]
    for code, change in changes:
        api.fails(code, "PUT", path, params={**good, **change})
    api.fails("FEATURE_FLAG_NOT_FOUND", "PUT", f"/feature_flags/missing_{uid()}", params=good)
    assert api.env()[key] == {"type": "int", "value": "5"}


def test_delete_flag(api: Api) -> None:
    key = api.flag()
    org = api.organization()
    api.ok("PATCH", ENV_ONE, f"{ENV}/{key}", json={"value": "true"})
    body = api.ok("DELETE", FLAG, f"/feature_flags/{key}")
    assert body == {"code": "FEATURE_FLAG_DELETED", "message": "Feature flag deleted"}
    assert key not in api.env()
    assert key not in api.org_flags(org)
    api.fails("FEATURE_FLAG_NOT_FOUND", "DELETE", f"/feature_flags/{key}")
    api.fails("FEATURE_FLAG_NOT_FOUND", "PATCH", f"{ENV}/{key}", json={"value": "true"})
    # The key can be used again, with none of the old overrides.
    api.ok(
        "POST",
        "/feature_flags",
        json={"name": "Again", "key": key, "type": "bool", "default_value": "false"},
    )
    assert api.env()[key]["value"] == "false"


# --- environment overrides ------------------------------------------------------------


def test_environment_overrides(api: Api) -> None:
    on = api.flag("bool", "false")
    num = api.flag("int", "1")
    body = api.ok("PATCH", ENV_ONE, f"{ENV}/{on}", json={"value": "true"})
    assert body["code"] == "FEATURE_FLAG_OVERRIDE_UPDATED"
    api.ok("PATCH", ENV_ONE, f"{ENV}/{num}", json={"value": "+2"})
    flags = api.env()
    assert flags[on] == {"type": "bool", "value": "true"}
    assert flags[num] == {"type": "int", "value": "2"}

    for code, body_ in [
        ("INVALID_VALUE", {"value": "maybe"}),
        ("INVALID_VALUE", {"value": True}),
        ("VALUE_REQUIRED", {"value": None}),
        ("VALUE_REQUIRED", {}),
    ]:
        api.fails(code, "PATCH", f"{ENV}/{on}", json=body_)
    api.fails("INVALID_VALUE", "PATCH", f"{ENV}/{num}", json={"value": "1e3"})
    api.fails("FEATURE_FLAG_NOT_FOUND", "PATCH", f"{ENV}/missing_{uid()}", json={"value": "1"})
    assert api.env()[on]["value"] == "true" and api.env()[num]["value"] == "2"

    body = api.ok("DELETE", ENV_ONE, f"{ENV}/{on}")
    assert body["code"] == "FEATURE_FLAG_OVERRIDE_DELETED"
    flags = api.env()
    assert flags[on]["value"] == "false" and flags[num]["value"] == "2"
    api.fails("FEATURE_FLAG_NOT_FOUND", "DELETE", f"{ENV}/missing_{uid()}")

    api.ok("PATCH", ENV_ONE, f"{ENV}/{on}", json={"value": "true"})
    body = api.ok("DELETE", ENV)
    assert body["code"] == "FEATURE_FLAG_OVERRIDES_DELETED"
    flags = api.env()
    assert flags[on]["value"] == "false" and flags[num]["value"] == "1"


# --- organization overrides -----------------------------------------------------------


def test_organization_overrides(api: Api) -> None:
    flag = api.flag("str", "default", level="org")
    env_only = api.flag("bool", "false", level="env")
    org = api.organization()
    other = api.organization()
    path = f"/organizations/{org}/feature_flags"

    assert api.org_flags(org)[flag] == {"type": "str", "value": "default"}
    api.ok("PATCH", ENV_ONE, f"{ENV}/{flag}", json={"value": "environment"})
    assert api.org_flags(org)[flag]["value"] == "environment"

    body = api.ok("PATCH", ORG_ONE, f"{path}/{flag}", params={"value": "mine"})
    assert body["code"] == "FEATURE_FLAG_OVERRIDE_UPDATED"
    assert api.org_flags(org)[flag] == {"type": "str", "value": "mine"}
    assert api.org_flags(other)[flag]["value"] == "environment"
    assert api.env()[flag]["value"] == "environment"
    api.ok("PATCH", ORG_ONE, f"{path}/{flag}", params={"value": "mine again"})
    assert api.org_flags(org)[flag]["value"] == "mine again"

    api.fails("OVERRIDE_NOT_ALLOWED", "PATCH", f"{path}/{env_only}", params={"value": "true"})
    api.fails("VALUE_REQUIRED", "PATCH", f"{path}/{flag}")
    api.fails("FEATURE_FLAG_NOT_FOUND", "PATCH", f"{path}/nope_{uid()}", params={"value": "x"})
    api.fails(
        "ORGANIZATION_NOT_FOUND",
        "PATCH",
        f"/organizations/org_00000000000/feature_flags/{flag}",
        params={"value": "x"},
    )
    assert api.org_flags(org)[env_only]["value"] == "false"

    body = api.ok("DELETE", ORG_ONE, f"{path}/{flag}")
    assert body["code"] == "FEATURE_FLAG_OVERRIDE_DELETED"
    assert api.org_flags(org)[flag]["value"] == "environment"
    api.ok("DELETE", ORG_ONE, f"{path}/{flag}")  # no override left: still fine
    api.fails("FEATURE_FLAG_NOT_FOUND", "DELETE", f"{path}/nope_{uid()}")

    api.ok("PATCH", ORG_ONE, f"{path}/{flag}", params={"value": "again"})
    body = api.ok("DELETE", ORG, path)
    assert body["code"] == "FEATURE_FLAG_OVERRIDES_DELETED"
    assert api.org_flags(org)[flag]["value"] == "environment"

    for method in ("GET", "DELETE"):
        api.fails("ORGANIZATION_NOT_FOUND", method, "/organizations/org_00000000000/feature_flags")
    api.fails(
        "ORGANIZATION_NOT_FOUND", "DELETE", f"/organizations/org_00000000000/feature_flags/{flag}"
    )


def test_organization_override_values_are_typed(api: Api) -> None:
    on = api.flag("bool", "false", level="org")
    num = api.flag("int", "0", level="usr")
    org = api.organization()
    path = f"/organizations/{org}/feature_flags"
    for key, bad in [(on, "1"), (on, "TRUE"), (num, "ten"), (num, "")]:
        api.fails("INVALID_VALUE", "PATCH", f"{path}/{key}", params={"value": bad})
    api.ok("PATCH", ORG_ONE, f"{path}/{on}", params={"value": "true"})
    api.ok("PATCH", ORG_ONE, f"{path}/{num}", params={"value": "-3"})
    flags = api.org_flags(org)
    assert flags[on] == {"type": "bool", "value": "true"}
    assert flags[num] == {"type": "int", "value": "-3"}


def test_update_resets_overrides_the_new_definition_does_not_allow(api: Api) -> None:
    key = api.flag("int", "1", level="usr")
    org = api.organization()
    user = api.user()
    path = f"/organizations/{org}/feature_flags/{key}"
    api.ok("PATCH", ENV_ONE, f"{ENV}/{key}", json={"value": "2"})
    api.ok("PATCH", ORG_ONE, path, params={"value": "3"})
    api.ok("PATCH", USER_ONE, f"/users/{user}/feature_flags/{key}", params={"value": "4"})

    common = {"name": "N", "description": "D", "type": "int", "default_value": "1"}
    # Same type and level: every override stays.
    api.put(key, allow_override_level="usr", **common)
    assert api.org_flags(org)[key]["value"] == "3"
    # Lowered to env: the organization override goes, the environment's stays.
    api.put(key, allow_override_level="env", **common)
    assert api.org_flags(org)[key]["value"] == "2"
    api.fails("OVERRIDE_NOT_ALLOWED", "PATCH", path, params={"value": "3"})
    api.put(key, allow_override_level="org", **common)
    assert api.org_flags(org)[key]["value"] == "2"  # not resurrected
    api.ok("PATCH", ORG_ONE, path, params={"value": "5"})
    # A new type resets every override.
    api.put(key, allow_override_level="org", **{**common, "type": "str", "default_value": "s"})
    assert api.env()[key] == {"type": "str", "value": "s"}
    assert api.org_flags(org)[key] == {"type": "str", "value": "s"}


# --- user overrides -------------------------------------------------------------------


def test_user_overrides(api: Api) -> None:
    usr = api.flag("bool", "false", level="usr")
    org_level = api.flag("bool", "false", level="org")
    user = api.user()
    path = f"/users/{user}/feature_flags"
    body = api.ok("PATCH", USER_ONE, f"{path}/{usr}", params={"value": "true"})
    assert body["code"] == "FEATURE_FLAG_OVERRIDE_UPDATED"
    api.ok("PATCH", USER_ONE, f"{path}/{usr}", params={"value": "false"})
    api.fails("OVERRIDE_NOT_ALLOWED", "PATCH", f"{path}/{org_level}", params={"value": "true"})
    api.fails("INVALID_VALUE", "PATCH", f"{path}/{usr}", params={"value": "yes"})
    api.fails("VALUE_REQUIRED", "PATCH", f"{path}/{usr}")
    api.fails("FEATURE_FLAG_NOT_FOUND", "PATCH", f"{path}/nope_{uid()}", params={"value": "1"})
    api.fails(
        "USER_NOT_FOUND",
        "PATCH",
        f"/users/kp_{'0' * 32}/feature_flags/{usr}",
        params={"value": "true"},
    )
    # User overrides never change what the environment or organizations see.
    assert api.env()[usr]["value"] == "false"


# --- scopes ---------------------------------------------------------------------------


def _concrete(path: str) -> str:
    return (
        path.replace("{feature_flag_key}", "some_flag")
        .replace("{org_code}", "org_0")
        .replace("{user_id}", "kp_0")
    )


@pytest.mark.parametrize("op", routes.router.operations, ids=lambda op: f"{op.method} {op.path}")
def test_token_without_the_scope_is_forbidden(api: Api, op: Any) -> None:
    key = api.flag("bool", "false", level="usr")
    api.ok("PATCH", ENV_ONE, f"{ENV}/{key}", json={"value": "true"})
    others = [s for s in MANAGEMENT_API_SCOPES if s != op.scope]
    narrow = token_for(api.server, others)
    assert op.scope not in jwt.decode(narrow, options={"verify_signature": False})["scp"]
    new_key = f"ff_{uid()}"
    kwargs: dict[str, Any] = {
        "params": {
            "value": "false",
            "name": "n",
            "description": "d",
            "type": "bool",
            "allow_override_level": "env",
            "default_value": "false",
        }
    }
    if op.body:
        kwargs["json"] = {
            "name": "n",
            "key": new_key,
            "type": "bool",
            "default_value": "false",
            "value": "false",
        }
    path = _concrete(op.path).replace("some_flag", key)
    resp = api.request(op.method, path, token=narrow, **kwargs)
    assert_error(resp, 403, "INSUFFICIENT_SCOPE")
    assert f'scope="{op.scope}"' in resp.headers["www-authenticate"]
    # Nothing changed: no new flag, the existing one and its override untouched.
    flags = api.env()
    assert new_key not in flags and flags[key] == {"type": "bool", "value": "true"}
    allowed = api.request(op.method, path, **kwargs)
    assert allowed.status_code != 403, allowed.text


def test_concurrent_creates_of_one_key_make_one_flag(api: Api) -> None:
    key = f"ff_race_{uid()}"
    statuses: list[int] = []
    errors: list[str] = []

    def create(n: int) -> None:
        payload = {"name": f"Race {n}", "key": key, "type": "int", "default_value": str(n)}
        with api.server.client() as http:
            resp = http.post(
                BASE + "/feature_flags",
                json=payload,
                headers={"Authorization": f"Bearer {api.token}"},
            )
        statuses.append(resp.status_code)
        if resp.status_code != 201:
            errors.append(resp.json()["errors"][0]["code"])

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [400] * 7
    assert errors == ["FEATURE_FLAG_EXISTS"] * 7
    assert api.env()[key]["type"] == "int"
