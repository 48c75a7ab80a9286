"""``kindling postman export``: a Postman v2.1 collection and environment, replayed for real.

The collection is validated against the Postman Collection Format v2.1.0 JSON Schema
(``tests/postman/collection-v2.1.0.schema.json``, compiled from Postman's published
schema sources; never fetched at test time). The token request is rebuilt from the
collection's OAuth 2.0 settings exactly the way Postman's "Get New Access Token" sends
it, and sent to a real server; the token then calls requests taken from the collection.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import jwt
import pytest

from kindling.web.app import management_operations
from tests.contract.contract import load_contract
from tests.support import KindlingServer

SCHEMA_FILE = Path(__file__).with_name("postman") / "collection-v2.1.0.schema.json"
CONTRACT = load_contract()
VARIABLE = re.compile(r"{{\s*([^{}\s]+)\s*}}")


def _export(server: KindlingServer, directory: Path, *extra: str) -> tuple[dict[str, Any], ...]:
    collection_path = directory / "mgmt.postman_collection.json"
    result = server.cli("postman", "export", "--output", str(collection_path), *extra)
    assert result.returncode == 0, result.stderr
    environment_path = directory / "kindling.postman_environment.json"
    assert str(collection_path) in result.stdout and str(environment_path) in result.stdout
    return (
        json.loads(collection_path.read_text(encoding="utf-8")),
        json.loads(environment_path.read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="module")
def exported(
    sqlite_server: KindlingServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any]]:
    collection, environment = _export(sqlite_server, tmp_path_factory.mktemp("postman"))
    return collection, environment


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _auth(collection: dict[str, Any]) -> dict[str, Any]:
    assert collection["auth"]["type"] == "oauth2"
    return {item["key"]: item["value"] for item in collection["auth"]["oauth2"]}


def _resolve(value: str, variables: dict[str, str]) -> str:
    """Postman's ``{{name}}`` substitution (repeated, as Postman resolves nested variables)."""
    for _ in range(10):
        replaced = VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), value)
        if replaced == value:
            return replaced
        value = replaced
    return value


def _requests(collection: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in collection["item"]:
        if "item" in item:
            found.extend(_requests(item))
        else:
            found.append(item)
    return found


def postman_token_request(collection: dict[str, Any], variables: dict[str, str]) -> httpx.Request:
    """The request Postman's OAuth 2.0 helper sends for "Get New Access Token"."""
    auth = _auth(collection)
    assert auth["grant_type"] == "client_credentials"
    body: list[tuple[str, str]] = [("grant_type", "client_credentials")]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "*/*",
        "User-Agent": "PostmanRuntime/7.43.0",
    }
    client_id = _resolve(auth["clientId"], variables)
    client_secret = _resolve(auth["clientSecret"], variables)
    if auth.get("client_authentication") == "body":
        body += [("client_id", client_id), ("client_secret", client_secret)]
    else:  # "header": HTTP Basic
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    if auth.get("scope"):
        body.append(("scope", _resolve(auth["scope"], variables)))
    query: list[tuple[str, str]] = []
    for param in auth.get("tokenRequestParams", []):
        if param.get("enabled") is False:
            continue
        pair = (param["key"], _resolve(param["value"], variables))
        where = param.get("send_as")
        if where == "request_body":
            body.append(pair)
        elif where == "request_url":
            query.append(pair)
        else:
            headers[pair[0]] = pair[1]
    url = httpx.URL(_resolve(auth["accessTokenUrl"], variables)).copy_merge_params(query)
    content = httpx.QueryParams(body).__str__()
    return httpx.Request("POST", url, headers=headers, content=content.encode())


def postman_request(
    item: dict[str, Any], variables: dict[str, str], token: str, prefix: str, path: dict[str, str]
) -> httpx.Request:
    """A collection request as Postman sends it with the inherited OAuth 2.0 token."""
    request = item["request"]
    url = request["url"]
    segments = [path[s[1:]] if s.startswith(":") else _resolve(s, variables) for s in url["path"]]
    base = _resolve(url["host"][0], variables)
    query = [
        (q["key"], _resolve(q["value"], variables))
        for q in url.get("query", [])
        if not q.get("disabled")
    ]
    target = httpx.URL(base + "/" + "/".join(segments)).copy_merge_params(query)
    headers = {h["key"]: _resolve(h["value"], variables) for h in request["header"]}
    headers["Authorization"] = f"{prefix} {token}"
    return httpx.Request(request["method"], target, headers=headers)


def test_collection_validates_against_the_v21_schema(
    exported: tuple[dict[str, Any], dict[str, Any]], validator: jsonschema.Draft7Validator
) -> None:
    collection, _ = exported
    errors = sorted(validator.iter_errors(collection), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert collection["info"]["schema"] == (
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    )
    # The schema really checks: a broken copy is refused.
    broken = copy.deepcopy(collection)
    broken["auth"]["type"] = "magic"
    broken["item"][0]["item"][0]["request"]["url"] = 42
    assert len(list(validator.iter_errors(broken))) >= 2


def test_collection_level_oauth2_client_credentials(
    exported: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    collection, _ = exported
    auth = _auth(collection)
    assert auth["grant_type"] == "client_credentials"
    assert auth["accessTokenUrl"] == "{{business_domain}}/oauth2/token"
    assert auth["clientId"] == "{{client_id}}"
    assert auth["clientSecret"] == "{{client_secret}}"
    assert auth["client_authentication"] == "body"
    assert auth["tokenRequestParams"] == [
        {
            "key": "audience",
            "value": "{{business_domain}}/api",
            "enabled": True,
            "send_as": "request_body",
        }
    ]
    assert auth["headerPrefix"] == "Bearer"
    assert auth["addTokenTo"] == "header"


def _tag_folders(collection: dict[str, Any]) -> dict[str, Any]:
    """The collection without its Smoke folder: one folder per tag."""
    return {**collection, "item": [f for f in collection["item"] if f["name"] != "Smoke"]}


def test_every_operation_is_a_request(exported: tuple[dict[str, Any], dict[str, Any]]) -> None:
    collection, _ = exported
    requests = _requests(_tag_folders(collection))
    operations = management_operations()
    assert len(requests) == len(operations)
    seen = {(r["request"]["method"], "/" + "/".join(r["request"]["url"]["path"])) for r in requests}
    for op in operations:
        postman_path = re.sub(r"{([^}]+)}", r":\1", "/api/v1" + op.path)
        assert (op.method, postman_path) in seen, (op.method, op.path)
    for item in requests:
        request = item["request"]
        assert {"key": "Accept", "value": "application/json"} in request["header"]
        assert request["url"]["host"] == ["{{business_domain}}"]
        if "body" in request and request["body"]["mode"] == "raw":
            assert {"key": "Content-Type", "value": "application/json"} in request["header"]
            json.loads(request["body"]["raw"])
        if request["url"]["path"][-1] == "verify":  # the public API key check
            assert request["auth"] == {"type": "noauth"}
        else:
            assert "auth" not in request  # inherits the collection's OAuth 2.0
    folders = [f["name"] for f in collection["item"]]
    assert "Users" in folders and "Organizations" in folders


def _script(events: list[dict[str, Any]], listen: str) -> str:
    [event] = [e for e in events if e["listen"] == listen]
    assert event["script"]["type"] == "text/javascript"
    return "\n".join(event["script"]["exec"])


def test_each_request_tests_its_declared_status_and_fills_its_variables(
    exported: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    collection, _ = exported
    declared = {
        ("/api/v1" + re.sub(r"{([^}]+)}", r":\1", op.path), op.method): op.status
        for op in management_operations()
    }
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    for item in _requests(collection):
        request = item["request"]
        key = ("/" + "/".join(request["url"]["path"]), request["method"])
        test = _script(item["event"], "test")
        assert f"pm.response.to.have.status({declared[key]});" in test, (key, test)
        for variable in request["url"].get("variable", []):
            value = variable["value"]
            assert value, (key, variable)  # every path variable has a value...
            found = VARIABLE.fullmatch(value)
            if found:  # ...or names a collection variable that has a default
                assert variables.get(found.group(1)), (key, value)
        for query in request["url"].get("query", []):
            if not query["disabled"]:
                assert query["value"], (key, query)
                assert f"{query['key']}={query['value']}" in request["url"]["raw"]
        body = request.get("body")
        if body and body["mode"] == "raw":
            json.loads(body["raw"])
    by_name = {i["name"]: i for i in _requests(_tag_folders(collection))}
    email = json.loads(by_name["Create user"]["request"]["body"]["raw"])["identities"][0]
    assert email["details"]["email"].endswith("@example.com")
    assert "{{$timestamp}}" in email["details"]["email"]  # unique per run
    api = json.loads(by_name["Add APIs"]["request"]["body"]["raw"])
    assert api["audience"].startswith("https://") and api["name"]
    get_user = by_name["Get user data"]["request"]["url"]
    assert {"key": "id", "value": "{{user_id}}", "disabled": False} in get_user["query"]
    # A path parameter named otherwise for the same thing shares the variable.
    callbacks = by_name["Get callback URLs"]["request"]["url"]["variable"]
    assert callbacks == [{"key": "app_id", "value": "{{application_id}}"}]


def test_the_pre_request_script_gets_and_caches_the_token(
    exported: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    collection, _ = exported
    script = _script(collection["event"], "prerequest")
    # The token request of the OAuth 2.0 settings: client credentials and the audience in
    # the body, from the environment's variables; cached with its expiry.
    for needle in (
        'url: domain + "/oauth2/token"',
        'method: "POST"',
        'mode: "urlencoded"',
        '{ key: "grant_type", value: "client_credentials" }',
        '{ key: "client_id", value: clientId }',
        'pm.variables.replaceIn("{{client_secret}}")',
        '{ key: "audience", value: domain + "/api" }',
        'pm.collectionVariables.set("access_token", body.access_token)',
        "Number(body.expires_in) * 1000",
    ):
        assert needle in script, needle
    logged = [line for line in script.splitlines() if "console." in line]
    assert logged and not any("secret" in line or 'token"' in line for line in logged)
    assert _auth(collection)["accessToken"] == "{{access_token}}"  # what the settings send
    variables = {v["key"] for v in collection["variable"]}
    assert {"access_token", "access_token_expires_at", "access_token_for"} <= variables


SMOKE_STEPS = [
    ("POST", "/api/v1/user"),
    ("GET", "/api/v1/user"),
    ("GET", "/api/v1/users"),
    ("DELETE", "/api/v1/user"),
    ("POST", "/api/v1/organization"),
    ("GET", "/api/v1/organization"),
    ("GET", "/api/v1/organizations"),
    ("DELETE", "/api/v1/organization/:org_code"),
    ("POST", "/api/v1/roles"),
    ("GET", "/api/v1/roles/:role_id"),
    ("GET", "/api/v1/roles"),
    ("DELETE", "/api/v1/roles/:role_id"),
    ("POST", "/api/v1/applications"),
    ("GET", "/api/v1/applications/:application_id"),
    ("GET", "/api/v1/applications"),
    ("DELETE", "/api/v1/applications/:application_id"),
    ("POST", "/api/v1/apis"),
    ("GET", "/api/v1/apis/:api_id"),
    ("GET", "/api/v1/apis"),
    ("DELETE", "/api/v1/apis/:api_id"),
]


def test_the_smoke_folder_creates_reads_lists_and_deletes(
    exported: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    collection, _ = exported
    assert collection["item"][0]["name"] == "Smoke"
    smoke = collection["item"][0]["item"]
    steps = [(i["request"]["method"], "/" + "/".join(i["request"]["url"]["path"])) for i in smoke]
    assert steps == SMOKE_STEPS
    stores = {
        "Create user": '"user_id", pm.response.json()["id"]',
        "Create organization": '"org_code", pm.response.json()["organization"]["code"]',
        "Create role": '"role_id", pm.response.json()["role"]["id"]',
        "Create application": '"application_id", pm.response.json()["application"]["id"]',
        "Add APIs": '"api_id", pm.response.json()["api"]["id"]',
    }
    for item in smoke:
        if item["name"] in stores:
            script = _script(item["event"], "test")
            assert f"pm.collectionVariables.set({stores[item['name']]});" in script
            assert "{{$timestamp}}" in item["request"]["body"]["raw"]  # unique per run
    ids = [i["id"] for i in _requests(collection)]
    assert len(ids) == len(set(ids))


def test_environment(
    exported: tuple[dict[str, Any], dict[str, Any]], sqlite_server: KindlingServer
) -> None:
    _, environment = exported
    values = {v["key"]: v for v in environment["values"]}
    assert set(values) == {"business_domain", "client_id", "client_secret"}
    assert values["business_domain"]["value"] == sqlite_server.issuer
    assert values["client_secret"]["type"] == "secret"
    assert environment["_postman_variable_scope"] == "environment"


def test_replay_the_token_request_as_postman_sends_it(
    exported: tuple[dict[str, Any], dict[str, Any]], sqlite_server: KindlingServer
) -> None:
    collection, environment = exported
    variables = {v["key"]: v["value"] for v in environment["values"]}
    variables["client_id"] = sqlite_server.client_id
    variables["client_secret"] = sqlite_server.client_secret
    token_request = postman_token_request(collection, variables)
    assert token_request.url == f"{sqlite_server.issuer}/oauth2/token"
    sent = dict(httpx.QueryParams(token_request.content.decode()))
    assert sent["audience"] == f"{sqlite_server.issuer}/api"  # in the body, not the URL
    assert "audience" not in str(token_request.url)
    with httpx.Client(timeout=30) as http:
        response = http.send(token_request)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["aud"] == [f"{sqlite_server.issuer}/api"]
        assert claims["azp"] == sqlite_server.client_id

        prefix = _auth(collection)["headerPrefix"]
        by_name = {item["name"]: item for item in _requests(collection)}
        users = http.send(
            postman_request(by_name["Get users"], variables, body["access_token"], prefix, {})
        )
        assert users.status_code == 200, users.text
        CONTRACT.validate_response("GET", "/api/v1/users", 200, users.json())
        apis = http.send(
            postman_request(by_name["Get APIs"], variables, body["access_token"], prefix, {})
        )
        assert apis.status_code == 200, apis.text
        api_id = apis.json()["apis"][0]["id"]
        one = http.send(
            postman_request(
                by_name["Get API"], variables, body["access_token"], prefix, {"api_id": api_id}
            )
        )
        assert one.status_code == 200, one.text
        assert one.json()["api"]["id"] == api_id

        # A wrong secret in the environment is refused, as Postman would show.
        variables["client_secret"] = "wrong"
        refused = http.send(postman_token_request(collection, variables))
        assert refused.status_code == 401


def test_export_is_deterministic_and_takes_options(
    sqlite_server: KindlingServer, tmp_path: Path
) -> None:
    first, _ = _export(sqlite_server, tmp_path / "a")
    second, environment = _export(
        sqlite_server,
        tmp_path / "b",
        "--business-domain",
        "https://auth.example.com/",
        "--client-id",
        "abc123",
    )
    assert first == second  # the collection does not depend on the domain: it uses variables
    values = {v["key"]: v["value"] for v in environment["values"]}
    assert values == {
        "business_domain": "https://auth.example.com",
        "client_id": "abc123",
        "client_secret": "",
    }
    again, _ = _export(sqlite_server, tmp_path / "a")
    assert again == first


def test_export_defaults_to_the_current_directory(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    export = [sys.executable, "-m", "kindling", "postman", "export"]
    data_dir = ["--data-dir", str(tmp_path / "d")]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*export, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    # A data dir that was never set up is refused (issue 11): exit 2, nothing created.
    refused = run(*data_dir)
    assert refused.returncode == 2 and "--business-domain" in refused.stderr, refused.stderr
    assert not (tmp_path / "d").exists()
    assert not (tmp_path / "kindling.postman_collection.json").exists()
    # With --business-domain no data dir is needed at all.
    result = run(*data_dir, "--business-domain", "http://localhost:8000")
    assert result.returncode == 0, result.stderr
    collection = json.loads((tmp_path / "kindling.postman_collection.json").read_text())
    environment = json.loads((tmp_path / "kindling.postman_environment.json").read_text())
    assert collection["info"]["name"] == "Kindling Management API"
    assert environment["values"][0]["value"] == "http://localhost:8000"
    assert not (tmp_path / "d").exists()


def test_console_download_matches_the_cli_export(
    exported: tuple[dict[str, Any], dict[str, Any]], sqlite_server: KindlingServer
) -> None:
    from tests.console_support import Console, owner_password

    console = Console(sqlite_server).login(owner_password(sqlite_server))
    try:
        downloaded = console.get("/admin/postman/collection.json").json()
    finally:
        console.close()
    assert downloaded == exported[0]
