"""How the web layer turns a handler's result into the declared 2xx (no I/O).

Where the spec's 2xx declares no body the answer has none and no Content-Type: an empty
body labelled ``application/json`` makes the JS SDK print ``SyntaxError: Unexpected end
of JSON input``. The conformance walk checks every registered operation over HTTP; these
pin the rule itself, mismatches included.
"""

from __future__ import annotations

import json
import logging

import pytest

from kindling.platform.operations import Operation, Router
from kindling.web.management import success_response


def _operation(no_body: bool) -> Operation:
    router = Router("Widgets")
    router.operation(
        "PATCH",
        "/widgets/{widget_id}",
        scope="update:widgets",
        operation_id="updateWidget",
        body=True,
        no_body=no_body,
    )(lambda call: None)
    (op,) = router.operations
    return op


def test_an_operation_without_a_response_body_answers_no_body_and_no_content_type() -> None:
    response = success_response(_operation(no_body=True), None)
    assert response.status_code == 200
    assert response.body == b""
    assert "content-type" not in response.headers
    assert response.headers["content-length"] == "0"


def test_a_json_operation_answers_its_payload_as_json() -> None:
    response = success_response(_operation(no_body=False), {"code": "OK", "message": "Done"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert json.loads(bytes(response.body)) == {"code": "OK", "message": "Done"}


def test_a_body_from_a_no_body_operation_is_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, "kindling.api"):
        response = success_response(_operation(no_body=True), {"code": "OK"})
    assert (response.status_code, response.body) == (200, b"")
    assert "content-type" not in response.headers
    assert "declared no_body" in caplog.text


def test_no_body_from_a_json_operation_is_a_500_not_an_empty_json_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, "kindling.api"):
        response = success_response(_operation(no_body=False), None)
    assert response.status_code == 500
    body = json.loads(bytes(response.body))
    assert body["errors"][0]["code"] == "INTERNAL_ERROR"
    assert "declares a JSON body" in caplog.text
