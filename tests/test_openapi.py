"""Our OpenAPI document (``/api/openapi.json``) and the interactive docs page (``/api/docs``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.operations import ErrorBody
from kindling.web.app import management_operations
from kindling.web.openapi import build_document, summary
from tests.contract.contract import load_contract
from tests.contract.spec_errors import SPEC_FILE, error_bodies
from tests.support import KindlingServer

REPO = Path(__file__).resolve().parent.parent
CONTRACT = load_contract()


@pytest.fixture(scope="module")
def document(sqlite_server: KindlingServer) -> dict[str, Any]:
    with sqlite_server.client() as http:
        response = http.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    data: dict[str, Any] = response.json()
    return data


def test_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.0")
    validate(document)  # raises on any violation of the OpenAPI 3.0 schema


def test_every_registered_operation_is_documented(document: dict[str, Any]) -> None:
    operations = management_operations()
    seen = set()
    for op in operations:
        entry = document["paths"]["/api/v1" + op.path][op.method.lower()]
        seen.add(entry["operationId"])
        assert entry["operationId"] == op.operation_id
        assert entry["tags"] == [op.tag]
        assert str(op.status) in entry["responses"]
        assert entry["summary"] == summary(op.operation_id)
        names = {(p["in"], p["name"]) for p in entry["parameters"]}
        assert {("query", p.name) for p in op.query} <= names
        assert {("path", n) for n in re.findall(r"{([^}]+)}", op.path)} <= names
        assert ("requestBody" in entry) == op.body
        if op.public:
            assert entry["security"] == []
        else:
            assert entry["x-scope"] == op.scope
            assert entry["security"] == [{"kindeBearerAuth": []}, {"kindeOAuth": [op.scope]}]
            assert {"401", "403"} <= set(entry["responses"])
    count = sum(len(methods) for methods in document["paths"].values())
    assert count == len(operations) == len(seen)


def test_schemas_come_from_the_contract(document: dict[str, Any]) -> None:
    users = document["paths"]["/api/v1/users"]["get"]
    schema = users["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/users_response"}
    assert "users_response" in document["components"]["schemas"]
    create = document["paths"]["/api/v1/user"]["post"]["requestBody"]
    body = create["content"]["application/json"]["schema"]
    assert "identities" in body["properties"]
    page_size = next(p for p in users["parameters"] if p["name"] == "page_size")
    assert page_size["schema"]["type"] == "integer"
    refs = set(re.findall(r'"\$ref": "([^"]+)"', str(document).replace("'", '"')))
    assert refs and all(r.startswith("#/components/schemas/") for r in refs)
    missing = {r.rsplit("/", 1)[1] for r in refs} - set(document["components"]["schemas"])
    assert not missing


def test_security_schemes(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["kindeBearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    flow = schemes["kindeOAuth"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth2/token"
    assert set(MANAGEMENT_API_SCOPES) <= set(flow["scopes"])


def test_servers_name_this_server(document: dict[str, Any], sqlite_server: KindlingServer) -> None:
    assert document["servers"][0]["url"] == sqlite_server.base_url
    with httpx.Client(base_url=f"http://127.0.0.1:{sqlite_server.port}") as http:
        other = http.get("/api/openapi.json").json()
    urls = [s["url"] for s in other["servers"]]
    assert urls == [f"http://127.0.0.1:{sqlite_server.port}", sqlite_server.issuer]


def test_live_responses_match_the_documented_schemas(
    document: dict[str, Any], sqlite_server: KindlingServer
) -> None:
    """A live ``GET /api/v1/users`` validates against the schema our document declares."""
    token = sqlite_server.token(scopes=["read:users", "read:organizations"])
    registry: Registry[Any] = Registry().with_resource(
        "urn:kindling:openapi", Resource.from_contents(document, default_specification=DRAFT4)
    )
    with sqlite_server.client() as http:
        for path in ("/api/v1/users", "/api/v1/organizations"):
            response = http.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            schema = document["paths"][path]["get"]["responses"]["200"]["content"][
                "application/json"
            ]["schema"]
            ref = "urn:kindling:openapi" + schema["$ref"]
            validator = OAS30Validator(
                {"$ref": ref}, registry=registry, format_checker=oas30_format_checker
            )
            validator.validate(response.json())
            CONTRACT.validate_response("GET", path, 200, response.json())


def test_a_no_body_2xx_is_documented_without_content(document: dict[str, Any]) -> None:
    """An operation declared ``no_body`` answers its 2xx with no body and no Content-Type;
    the document says so as the spec does (a description, no ``content``), and every
    other operation's 2xx declares its JSON body."""
    no_body = []
    for op in management_operations():
        ok = document["paths"]["/api/v1" + op.path][op.method.lower()]["responses"][str(op.status)]
        spec = CONTRACT.find(op.method, "/api/v1" + op.path).success[str(op.status)]
        assert op.no_body == (spec is None), op
        if op.no_body:
            no_body.append(op.operation_id)
            assert ok == {"description": "Success"}, (op.operation_id, ok)
        else:
            assert set(ok["content"]) == {"application/json"}, (op.operation_id, ok)
            assert ok["content"]["application/json"]["schema"], op.operation_id
    assert "updateApplication" in no_body and "deleteAPIScope" in no_body, no_body


def test_a_declared_404_documents_the_body_its_operation_answers(
    document: dict[str, Any],
) -> None:
    """A declared 404 references the schema the route answers (``Operation.not_found``):
    ``not_found_response`` for most, ``error_response`` where the spec says so; every other
    error status ``error_response``. Checked against the spec YAML when it is present."""
    spec = error_bodies(404) if SPEC_FILE.is_file() else None
    seen = set()
    for op in management_operations():
        responses = document["paths"]["/api/v1" + op.path][op.method.lower()]["responses"]
        for status, response in responses.items():
            if not status.startswith(("4", "5")):
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            expected = op.not_found if status == "404" else ErrorBody.ERROR_RESPONSE
            assert ref == f"#/components/schemas/{expected.value}", (op.operation_id, status)
        assert ("404" in responses) == (404 in op.declared_errors), op.operation_id
        if "404" in responses:
            seen.add(op.not_found)
            if spec is not None:
                assert spec[(op.method, "/api/v1" + op.path)] == op.not_found.value, op
    assert seen == set(ErrorBody)


@pytest.mark.parametrize(
    ("path", "errors_type"),
    [("/api/v1/api_keys/{key_id}", dict), ("/api/v1/directories/{directory_id}", list)],
)
def test_a_live_404_matches_the_documented_schema(
    document: dict[str, Any], sqlite_server: KindlingServer, path: str, errors_type: type
) -> None:
    """A live 404 of each shape validates against the schema our document declares."""
    schema = document["paths"][path]["get"]["responses"]["404"]["content"]["application/json"][
        "schema"
    ]
    registry: Registry[Any] = Registry().with_resource(
        "urn:kindling:openapi", Resource.from_contents(document, default_specification=DRAFT4)
    )
    validator = OAS30Validator(
        {"$ref": "urn:kindling:openapi" + schema["$ref"]},
        registry=registry,
        format_checker=oas30_format_checker,
    )
    concrete = re.sub(r"{[^}]+}", "unknown_0123456789abcdef", path)
    with sqlite_server.client() as http:
        response = http.get(concrete, headers={"Authorization": f"Bearer {sqlite_server.token()}"})
    assert response.status_code == 404, response.text
    validator.validate(response.json())
    assert isinstance(response.json()["errors"], errors_type)


def test_committed_schema_file_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_openapi_schemas.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_file_has_no_prose() -> None:
    text = (REPO / "src" / "kindling" / "web" / "openapi_schemas.json").read_text()
    assert '"summary"' not in text and '"example"' not in text
    assert not re.search(r'"description":\s*"', text)


def test_build_document_without_a_server() -> None:
    doc = build_document(management_operations())
    assert doc["servers"] == []
    validate(doc)


def test_docs_page_is_self_contained(sqlite_server: KindlingServer) -> None:
    with sqlite_server.client() as http:
        page = http.get("/api/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp
        # No CDN: every script and stylesheet is served by Kindling.
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/") for a in assets), assets
        for asset in assets:
            fetched = http.get(asset)
            assert fetched.status_code == (303 if asset == "/admin/" else 200), asset
        bundle = http.get("/api/docs/assets/swagger-ui-bundle.js")
        assert bundle.headers["content-type"].startswith("text/javascript")
        assert len(bundle.content) > 500_000
        # Only the files the page needs are served (not Swagger's demo index.html).
        assert http.get("/api/docs/assets/index.html").status_code == 404
        assert http.get("/api/docs/assets/..%2F..%2Fpyproject.toml").status_code == 404
        # The docs script never sends the token anywhere but in the Authorization header.
        script = http.get("/admin/static/docs.js").text
        assert "location.hash" in script and "replaceState" in script
        assert "validatorUrl: null" in script


def test_management_api_mount_is_unchanged(sqlite_server: KindlingServer) -> None:
    with sqlite_server.client() as http:
        assert http.get("/api/v1/users").status_code == 401
        assert http.get("/api/v1/docs").status_code == 404
