"""Our OpenAPI document declares the error body each operation really answers (no I/O).

Found by the fuzzer (``tests/test_fuzz_openapi.py``): every error status in the document
pointed at ``error_response`` (``errors`` a list), while a declared 404 answers Kinde's
``not_found_response`` (``errors`` one object) unless the operation declares otherwise
(``Operation.error_body``), so every 404 a client validated against our document failed.
The document and the web layer now read the same declaration; this pins it for every
registered operation by rendering each declared error with the web layer's own function.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from kindling.platform.codes import Code
from kindling.platform.errors import AlreadyExists, KindlingError, NotFound, ValidationError
from kindling.platform.operations import ErrorBody, Operation
from kindling.web.app import management_operations
from kindling.web.management import operation_error
from kindling.web.openapi import API_PREFIX, build_document

DOCUMENT = build_document(management_operations())
URI = "urn:kindling:openapi"
REGISTRY: Registry[Any] = Registry().with_resource(
    URI, Resource.from_contents(DOCUMENT, default_specification=DRAFT4)
)
ERRORS: dict[int, KindlingError] = {
    400: ValidationError("bad input", Code.INVALID_PARAMETER),
    404: NotFound("no such user", Code.USER_NOT_FOUND),
    409: AlreadyExists("taken", Code.USER_ALREADY_EXISTS),
}


def _declared(op: Operation, status: int) -> dict[str, Any]:
    responses = DOCUMENT["paths"][API_PREFIX + op.path][op.method.lower()]["responses"]
    schema: dict[str, Any] = responses[str(status)]["content"]["application/json"]["schema"]
    return schema


def _cases() -> list[tuple[Operation, int]]:
    return [
        (op, status)
        for op in management_operations()
        for status in sorted(ERRORS)
        if status == 400 or status in op.declared_errors
    ]


@pytest.mark.parametrize(
    ("op", "status"), _cases(), ids=lambda v: v.operation_id if isinstance(v, Operation) else v
)
def test_a_domain_error_validates_against_the_declared_body(op: Operation, status: int) -> None:
    response = operation_error(op, ERRORS[status])
    assert response.status_code == status
    schema = _declared(op, status)
    validator = OAS30Validator(
        {"$ref": URI + schema["$ref"]}, registry=REGISTRY, format_checker=oas30_format_checker
    )
    errors = list(validator.iter_errors(json.loads(bytes(response.body))))
    assert not errors, (op.method, op.path, status, schema, errors)


def test_both_404_bodies_are_documented() -> None:
    """Most declared 404s are ``not_found_response``; directories' are ``error_response``."""
    seen = {
        _declared(op, 404)["$ref"].rsplit("/", 1)[1]: op.error_body(404)
        for op in management_operations()
        if 404 in op.declared_errors
    }
    assert seen == {body.value: body for body in ErrorBody}
