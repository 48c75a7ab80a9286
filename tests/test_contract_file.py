"""Checks on the committed Kinde contract and on the contract helper itself."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from tests.contract.contract import CONTRACT_FILE, Contract, load_contract

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATOR = REPO_ROOT / "scripts" / "gen_contract.py"

PROSE_KEYS = {"description", "summary", "example", "examples", "title", "externalDocs"}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_contract", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_contract", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _generator()


# --- (a) counts and the scopes module ------------------------------------


def test_operation_count(contract: Contract) -> None:
    assert len(contract.operations) == 183
    assert contract.source["operations"] == 183
    keys = {(op.method, op.path) for op in contract.operations}
    assert len(keys) == 183


def test_every_operation_but_verify_has_a_scope(contract: Contract) -> None:
    unscoped = [str(op) for op in contract.operations if op.scope is None]
    assert unscoped == ["POST /api/v1/api_keys/verify (verifyApiKey)"]


def test_scopes_match_generated_module(contract: Contract, gen: ModuleType) -> None:
    spec_scopes = contract.scopes()
    assert len(spec_scopes) == 148
    sdk_only = set(gen.SDK_ONLY_SCOPES)
    assert not sdk_only & spec_scopes
    assert list(MANAGEMENT_API_SCOPES) == sorted(spec_scopes | sdk_only)
    assert len(MANAGEMENT_API_SCOPES) == len(set(MANAGEMENT_API_SCOPES)) == 149


# --- (b) regeneration is byte-identical ------------------------------------


def test_regeneration_is_byte_identical(gen: ModuleType) -> None:
    spec_path: Path = gen.DEFAULT_SPEC
    if not spec_path.is_file():
        pytest.skip(f"Kinde spec not present at {spec_path} (fresh clone); nothing to compare")
    for rel, text in gen.generate(spec_path).items():
        committed = (REPO_ROOT / rel).read_bytes()
        assert committed == text.encode("utf-8"), (
            f"{rel} is stale; rerun: python scripts/gen_contract.py"
        )


# --- (c) no prose ------------------------------------------------------------


def _annotation_keys(node: Any, where: str, in_properties: bool = False) -> list[str]:
    """Paths of prose keys; keys of a ``properties`` map are property names."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if not in_properties and key in PROSE_KEYS | {"x-displayName"}:
                found.append(f"{where}/{key}")
            child_is_map = key == "properties" and not in_properties and isinstance(value, dict)
            found += _annotation_keys(value, f"{where}/{key}", child_is_map)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += _annotation_keys(item, f"{where}/{i}")
    return found


def test_contract_has_no_prose() -> None:
    document = json.loads(CONTRACT_FILE.read_text(encoding="utf-8"))
    # "source" is metadata ({"title", "version", "operations"}), not spec prose.
    assert sorted(document) == ["operations", "schemas", "source"]
    assert sorted(document["source"]) == ["operations", "title", "version"]
    assert _annotation_keys(document["operations"], "#/operations") == []
    assert _annotation_keys(document["schemas"], "#/schemas") == []
    # ...while properties that happen to be called "description" survive.
    api_scope = document["schemas"]["get_api_scope_response"]
    assert "description" in api_scope["properties"]["scope"]["properties"]


def test_contract_file_is_canonical_json() -> None:
    text = CONTRACT_FILE.read_text(encoding="utf-8")
    document = json.loads(text)
    assert text == json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# --- (d) the helper: find, match, validate_response -----------------------


def test_find_and_match(contract: Contract) -> None:
    op = contract.find("get", "/api/v1/apis/{api_id}/scopes")
    assert op.operation_id == "getAPIScopes"
    assert op.scope == "read:api_scopes"
    assert contract.match("GET", "/api/v1/apis/abc/scopes") is op
    assert contract.match("GET", "/api/v1/apis/abc/scopes?x=1") is op
    assert contract.match("GET", "/api/v1/apis//scopes") is None
    assert contract.match("PUT", "/api/v1/apis/abc/scopes") is None
    assert contract.match("GET", "/api/v1/nope") is None
    with pytest.raises(KeyError):
        contract.find("GET", "/api/v1/nope")


def test_match_prefers_literal_segments(contract: Contract) -> None:
    verify = contract.match("POST", "/api/v1/api_keys/verify")
    assert verify is not None and verify.path == "/api/v1/api_keys/verify"
    count = contract.match("GET", "/api/v1/organizations/org_1/roles/r1/users/count")
    assert count is not None and count.operation_id == "GetOrganizationRoleUsersCount"


def test_every_template_matches_itself(contract: Contract) -> None:
    for op in contract.operations:
        concrete = "/".join("x1" if s.startswith("{") else s for s in op.path.split("/"))
        assert contract.match(op.method, concrete) is op, op


GOOD_USERS = {
    "code": "OK",
    "message": "Success",
    "users": [
        {
            "id": "kp_0123456789abcdef0123456789abcdef",
            "email": "ada@example.com",
            "first_name": "Ada",
            "is_suspended": False,
            "total_sign_ins": None,
            "failed_sign_ins": 0,
            "organizations": ["org_1234567890a"],
            "last_organization_sign_ins": [
                {"org_code": "org_1234567890a", "last_signed_in": "2026-01-28T14:26:02+00:00"}
            ],
        }
    ],
    "next_token": "Mjo5Om1hbWVfYZNj",
}


def test_good_users_body_validates(contract: Contract) -> None:
    contract.validate_response("GET", "/api/v1/users", 200, GOOD_USERS)
    contract.validate_response("GET", "/api/v1/users", 200, {"users": []})


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b["users"][0].update(is_suspended="yes"), "$.users[0].is_suspended"),
        (lambda b: b.update(users={"id": "kp_1"}), "$.users"),
        (lambda b: b["users"][0].update(id=12345), "$.users[0].id"),
        (lambda b: b["users"][0].update(failed_sign_ins=True), "$.users[0].failed_sign_ins"),
        (lambda b: b.update(code=None), "not nullable"),
        (
            lambda b: b["users"][0]["last_organization_sign_ins"][0].update(
                last_signed_in="yesterday"
            ),
            "date-time",
        ),
    ],
)
def test_bad_users_body_fails(contract: Contract, mutate: Any, needle: str) -> None:
    body = copy.deepcopy(GOOD_USERS)
    mutate(body)
    with pytest.raises(AssertionError, match="does not match the spec") as info:
        contract.validate_response("GET", "/api/v1/users", 200, body)
    assert needle in str(info.value)


def test_nested_refs_and_nullable(contract: Contract) -> None:
    # get_directories_response -> #/schemas/directory (a second $ref hop).
    directory = {
        "id": "directory_1",
        "status": "Active",
        "created_on": "2025-02-12T18:02:23.614638+00:00",
        "last_sync_error": None,
    }
    body: dict[str, Any] = {"code": "OK", "directories": [directory], "has_more": False}
    contract.validate_response("GET", "/api/v1/directories", 200, body)
    for bad in ({"status": "Sleeping"}, {"id": None}, {"created_on": 1739383343}):
        broken = copy.deepcopy(body)
        broken["directories"][0].update(bad)
        with pytest.raises(AssertionError, match=r"\$\.directories\[0\]"):
            contract.validate_response("GET", "/api/v1/directories", 200, broken)


def test_concrete_path_accepted(contract: Contract) -> None:
    body = {"code": "OK", "message": "Success", "scopes": []}
    contract.validate_response("GET", "/api/v1/apis/abc/scopes", 200, body)


def test_status_must_be_a_declared_success(contract: Contract) -> None:
    app = {"code": "OK", "application": {"id": "a1", "client_id": "a1"}}
    contract.validate_response("POST", "/api/v1/applications", 201, app)
    for status in (200, 204, 400, 403):
        with pytest.raises(AssertionError, match="expected 201"):
            contract.validate_response("POST", "/api/v1/applications", status, app)


def test_bodiless_success_accepts_anything(contract: Contract) -> None:
    op = contract.find("PATCH", "/api/v1/applications/{application_id}")
    assert op.success == {"200": None}
    contract.validate_response("PATCH", op.path, 200, {"code": "OK", "message": "Success"})
    contract.validate_response("PATCH", op.path, 200, None)
