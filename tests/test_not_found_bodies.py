"""Every 404 an operation declares answers the body the spec declares for that operation.

Kinde's spec has two error bodies: ``error_response`` (``{"errors": [{"code", "message"}]}``)
and ``not_found_response`` (``{"errors": {"code", "message"}}``, an object). Most declared
404s use the second (the shared ``not_found`` response); the directories and connected-apps
operations declare the first. An SDK decodes the 404 of each operation with that
operation's model, so the web layer renders a declared 404 in the body its operation
declares (``Router.operation(..., not_found=ErrorBody...)``), and an undeclared one as a
400 ``error_response``.

* the declarations against the contract (which operations declare a 404) and the spec
  YAML (which body; ``tests/contract/spec_errors.py``, skipped in a fresh clone without it);
* the web layer's rendering of both shapes;
* every implemented operation that declares a 404, called with unknown ids on a real server
  (both engines): 404 in exactly the declared body, valid against the spec's schema.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from kindling.platform.codes import Code
from kindling.platform.errors import NotFound
from kindling.platform.operations import ErrorBody, Operation, Router
from kindling.web.app import management_operations
from kindling.web.management import operation_error
from tests.contract.contract import load_contract
from tests.contract.spec_errors import SPEC_FILE, error_bodies
from tests.support import KindlingServer

CONTRACT = load_contract()
BASE = "/api/v1"
OURS = {(op.method, BASE + op.path): op for op in management_operations()}
IMPLEMENTED = [op for op in CONTRACT.operations if (op.method, op.path) in OURS]
#: The implemented operations whose contract declares a 404.
DECLARING = [op for op in IMPLEMENTED if 404 in op.error_codes]


def _id(op: Any) -> str:
    return str(op.operation_id)


def _validator(schema: str) -> Any:
    """A validator of one of the contract's ``components.schemas`` (OpenAPI 3.0 rules)."""
    uri = "urn:kindling:contract-schemas"
    registry: Registry[Any] = Registry().with_resource(
        uri, DRAFT4.create_resource(dict(CONTRACT.document))
    )
    return OAS30Validator(
        {"$ref": f"{uri}#/schemas/{schema}"}, registry=registry, format_checker=oas30_format_checker
    )


def assert_error_body(body: Any, declared: ErrorBody) -> None:
    """``body`` is exactly the declared error body: schema-valid, with a code and message."""
    errors = sorted(_validator(declared.value).iter_errors(body), key=str)
    assert not errors, (declared.value, body, [e.message for e in errors])
    if declared is ErrorBody.NOT_FOUND_RESPONSE:
        assert isinstance(body["errors"], dict), body
        entries = [body["errors"]]
    else:
        assert isinstance(body["errors"], list) and body["errors"], body
        entries = body["errors"]
    for entry in entries:
        assert isinstance(entry["code"], str) and entry["code"].endswith("NOT_FOUND"), body
        assert isinstance(entry["message"], str) and entry["message"], body


# --- the declarations -------------------------------------------------------------------


@pytest.mark.parametrize("op", IMPLEMENTED, ids=_id)
def test_an_operation_declares_a_404_exactly_when_the_contract_does(op: Any) -> None:
    ours = OURS[(op.method, op.path)]
    assert (404 in ours.declared_errors) == (404 in op.error_codes), (
        f"{op}: Kindling declares {sorted(ours.declared_errors)}, the contract {op.error_codes}"
    )


def test_every_declared_404_names_the_body_the_spec_declares() -> None:
    if not SPEC_FILE.is_file():
        pytest.skip(f"Kinde spec not present at {SPEC_FILE} (fresh clone); nothing to compare")
    spec = error_bodies(404)
    assert set(spec.values()) <= {b.value for b in ErrorBody}, spec
    wrong = [
        f"{op}: declares {OURS[(op.method, op.path)].not_found.value}, "
        f"the spec {spec[(op.method, op.path)]}"
        for op in DECLARING
        if OURS[(op.method, op.path)].not_found.value != spec[(op.method, op.path)]
    ]
    assert not wrong, "; ".join(wrong)


def test_a_404_body_is_declared_only_with_a_404() -> None:
    router = Router("Widgets")
    with pytest.raises(ValueError, match="declares no 404"):
        router.operation(
            "GET",
            "/widgets/{widget_id}",
            scope="read:widgets",
            operation_id="getWidget",
            not_found=ErrorBody.ERROR_RESPONSE,
        )


# --- the web layer's rendering -------------------------------------------------------


def _widget(errors: tuple[int, ...], not_found: ErrorBody | None = None) -> Operation:
    router = Router("Widgets")
    router.operation(
        "GET",
        "/widgets/{widget_id}",
        scope="read:widgets",
        operation_id="getWidget",
        errors=errors,
        not_found=not_found,
    )(lambda call: None)
    (op,) = router.operations
    return op


@pytest.mark.parametrize(
    ("errors", "not_found", "status", "declared"),
    [
        ((404,), None, 404, ErrorBody.NOT_FOUND_RESPONSE),
        ((404,), ErrorBody.NOT_FOUND_RESPONSE, 404, ErrorBody.NOT_FOUND_RESPONSE),
        ((404,), ErrorBody.ERROR_RESPONSE, 404, ErrorBody.ERROR_RESPONSE),
        ((), None, 400, ErrorBody.ERROR_RESPONSE),
    ],
)
def test_a_not_found_error_renders_as_its_operation_declares(
    errors: tuple[int, ...], not_found: ErrorBody | None, status: int, declared: ErrorBody
) -> None:
    response = operation_error(
        _widget(errors, not_found), NotFound("Widget not found", Code.ROUTE_NOT_FOUND)
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert_error_body(json.loads(bytes(response.body)), declared)


# --- every declared 404, on a real server ---------------------------------------------


@pytest.fixture(scope="module")
def http(server: KindlingServer) -> Iterator[httpx.Client]:
    client = server.client()
    client.headers["Authorization"] = f"Bearer {server.token()}"
    yield client
    client.close()


def _unknown(name: str) -> str:
    """A well-formed id of the parameter's kind that names nothing."""
    hex32 = uuid.uuid4().hex
    return {
        "org_code": "org_" + hex32[:11],
        "user_id": "kp_" + hex32,
        "factor_id": "mfa_" + hex32,
    }.get(name, f"unknown_{hex32}")


_PLACEHOLDERS: dict[str, Any] = {
    "string": "conformance",
    "boolean": False,
    "integer": 1,
    "number": 1,
    "array": [],
    "object": {},
}


def _body(op: Any) -> Any:
    """A JSON body that passes validation (so the unknown id is what fails): every top-level
    property of the request schema with a placeholder of its type; None without a body."""
    if op.request_body is None:
        return None
    properties = (op.request_body.get("schema") or {}).get("properties") or {}
    return {
        name: _PLACEHOLDERS[str(schema.get("type"))]
        for name, schema in properties.items()
        if str(schema.get("type")) in _PLACEHOLDERS
    }


#: Optional query parameters an operation needs one of before it looks anything up.
EXTRA_QUERY = {"GetConnectedAppAuthUrl": ("user_id",)}


@pytest.mark.parametrize("op", DECLARING, ids=_id)
def test_every_declared_404_answers_its_declared_body(http: httpx.Client, op: Any) -> None:
    """An unknown id in every path parameter and required query parameter: 404 in the body
    the operation declares."""
    ours = OURS[(op.method, op.path)]
    path, query = op.path, {}
    for param in op.parameters:
        name = str(param["name"])
        if param.get("in") == "path":
            path = path.replace("{" + name + "}", _unknown(name))
        elif param.get("in") == "query" and (
            param.get("required") or name in EXTRA_QUERY.get(op.operation_id, ())
        ):
            query[name] = _unknown(name)
    response = http.request(op.method, path, params=query, json=_body(op))
    assert response.status_code == 404, (op.operation_id, path, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert_error_body(response.json(), ours.not_found)
