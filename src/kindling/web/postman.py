"""A Postman collection (format v2.1.0) and environment for the Management API.

Built from our OpenAPI document (``kindling.web.openapi``), one folder per tag and
one request per operation, plus a ``Smoke`` folder (below). Ids are derived from names,
so exporting twice gives identical files. The environment holds ``business_domain``,
``client_id`` and ``client_secret``.

Authorization is set once, on the collection, two ways that agree:

* For the Postman app, OAuth 2.0 client credentials against
  ``{{business_domain}}/oauth2/token`` with the client id and secret sent in the body and
  the audience ``{{business_domain}}/api`` added to the token request body, the token
  sent as ``Authorization: Bearer …``, as Kinde's Postman guide configures it.
* Headless (``newman run``, or the app without clicking "Get New Access Token"): a
  collection-level pre-request script asks the same token endpoint with the same
  parameters (RFC 6749 §4.4) whenever no token is cached, the cached one expires within a
  minute, or it was issued for another domain or client id. It keeps the token in the
  collection variable ``access_token`` (with ``access_token_expires_at`` in Unix
  milliseconds, from ``expires_in``), which the OAuth 2.0 settings send as their current
  token. The script logs no token or secret.

Every request has a test for the 2xx status its operation declares. Path variables point
at collection variables named after them (``{{user_id}}``, ``{{org_code}}``, ...), whose
defaults are ids of nothing; required query parameters and JSON bodies are filled with
examples sketched from the schemas (unique names per run through ``{{$timestamp}}`` and
``{{$randomInt}}``; optional references to other objects are left out).

The ``Smoke`` folder runs, for users, organizations, roles, applications and APIs:
create, read, list, delete. Each create's test stores the new id in the collection
variable the following requests use, so the folder passes on any server the environment's
application may manage (``newman run … --folder Smoke``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

COLLECTION_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
COLLECTION_NAME = "Kindling Management API"
ENVIRONMENT_NAME = "Kindling"
COLLECTION_FILENAME = "kindling.postman_collection.json"
ENVIRONMENT_FILENAME = "kindling.postman_environment.json"
DOMAIN_VAR = "{{business_domain}}"
TOKEN_URL = DOMAIN_VAR + "/oauth2/token"
AUDIENCE = DOMAIN_VAR + "/api"
_NAMESPACE = uuid.UUID("6f1b3f2e-5d7c-4a0e-9c61-4b1d0f8e2a57")
_PATH_PARAM = re.compile(r"{([^}]+)}")
_METHODS = ("get", "post", "put", "patch", "delete")
MAX_EXAMPLE_DEPTH = 4
SMOKE_FOLDER = "Smoke"
#: Collection variables the pre-request script keeps the token in.
TOKEN_VARIABLE = "access_token"
TOKEN_EXPIRY_VARIABLE = "access_token_expires_at"
TOKEN_OWNER_VARIABLE = "access_token_for"
#: Path parameters that name the same thing under another name share one variable.
_VARIABLE_ALIASES = {"organization_code": "org_code", "app_id": "application_id"}
#: Required query parameters that are an object's id: the variable they take.
_QUERY_VARIABLES = {("/api/v1/user", "id"): "user_id", ("/api/v1/organization", "code"): "org_code"}
#: A run-unique suffix (Postman dynamic variables, resolved when the request is sent).
UNIQUE = "{{$timestamp}}{{$randomInt}}"


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def collection_auth() -> dict[str, Any]:
    """Collection-level OAuth 2.0 client credentials (Postman's ``oauth2`` attribute list)."""
    attributes: list[tuple[str, Any, str]] = [
        ("grant_type", "client_credentials", "string"),
        ("accessTokenUrl", TOKEN_URL, "string"),
        ("clientId", "{{client_id}}", "string"),
        ("clientSecret", "{{client_secret}}", "string"),
        ("client_authentication", "body", "string"),
        (
            "tokenRequestParams",
            [{"key": "audience", "value": AUDIENCE, "enabled": True, "send_as": "request_body"}],
            "any",
        ),
        ("tokenName", "Kindling Management API token", "string"),
        # The pre-request script's cached token; "Get New Access Token" replaces it.
        ("accessToken", "{{" + TOKEN_VARIABLE + "}}", "string"),
        ("addTokenTo", "header", "string"),
        ("headerPrefix", "Bearer", "string"),
    ]
    return {
        "type": "oauth2",
        "oauth2": [{"key": key, "value": value, "type": kind} for key, value, kind in attributes],
    }


def _js_string(value: str) -> str:
    """A JavaScript string literal (JSON's escaping is valid JavaScript)."""
    return json.dumps(value)


#: The collection's pre-request script (see the module docstring). ``pm.sendRequest`` is
#: awaited by Postman and newman before the request itself is sent.
PRE_REQUEST_SCRIPT = [
    "// Kindling: get a Management API token with the environment's client credentials",
    "// (RFC 6749 4.4, Kinde's audience parameter) unless a valid one is cached.",
    "const auth = pm.request.auth;",
    'const needsToken = !(auth && auth.type === "noauth");',
    'const domain = pm.variables.replaceIn("{{business_domain}}").replace(/\\/+$/, "");',
    'const clientId = pm.variables.replaceIn("{{client_id}}");',
    'const owner = domain + " " + clientId;',
    f"const cached = pm.collectionVariables.get({_js_string(TOKEN_VARIABLE)});",
    f"const expiresAt = Number(pm.collectionVariables.get({_js_string(TOKEN_EXPIRY_VARIABLE)})"
    " || 0);",
    "const fresh = Boolean(cached) && Date.now() < expiresAt - 60000 &&",
    f"    pm.collectionVariables.get({_js_string(TOKEN_OWNER_VARIABLE)}) === owner;",
    "if (needsToken && !fresh) {",
    "    pm.sendRequest({",
    '        url: domain + "/oauth2/token",',
    '        method: "POST",',
    "        header: [",
    '            { key: "Content-Type", value: "application/x-www-form-urlencoded" },',
    '            { key: "Accept", value: "application/json" }',
    "        ],",
    "        body: {",
    '            mode: "urlencoded",',
    "            urlencoded: [",
    '                { key: "grant_type", value: "client_credentials" },',
    '                { key: "client_id", value: clientId },',
    '                { key: "client_secret", value: pm.variables.replaceIn("{{client_secret}}") },',
    '                { key: "audience", value: domain + "/api" }',
    "            ]",
    "        }",
    "    }, function (error, response) {",
    "        if (error || response.code !== 200) {",
    '            console.warn("Kindling: the token request failed: " +',
    '                (error ? String(error) : response.code + " " + response.status));',
    "            return;",
    "        }",
    "        const body = response.json();",
    f"        pm.collectionVariables.set({_js_string(TOKEN_VARIABLE)}, body.access_token);",
    f"        pm.collectionVariables.set({_js_string(TOKEN_EXPIRY_VARIABLE)},",
    "            String(Date.now() + Number(body.expires_in) * 1000));",
    f"        pm.collectionVariables.set({_js_string(TOKEN_OWNER_VARIABLE)}, owner);",
    "    });",
    "}",
]


def _script(listen: str, lines: Sequence[str]) -> dict[str, Any]:
    return {"listen": listen, "script": {"type": "text/javascript", "exec": list(lines)}}


def _status_test(status: int) -> list[str]:
    return [
        f'pm.test("answers {status}, as the operation declares", function () {{',
        f"    pm.response.to.have.status({status});",
        "});",
    ]


def _js_path(path: str) -> str:
    """``organization.code`` -> ``["organization"]["code"]`` (a property access chain)."""
    return "".join(f"[{_js_string(part)}]" for part in path.split("."))


def _variable(name: str) -> str:
    return _VARIABLE_ALIASES.get(name, name)


def _variable_default(name: str) -> str:
    """What a path variable holds until a request stores a real id: the id of nothing."""
    if name == "user_id":
        return "kp_00000000000000000000000000000000"
    if name == "org_code":
        return "org_00000000000"
    if name.endswith("_key"):
        return "example_key"
    if name.endswith("_code"):
        return "example_code"
    return "00000000000000000000000000000000"


_REFERENCE = re.compile(r"(^|_)(id|ids|code|codes)$")


def _string_example(name: str, schema: Mapping[str, Any]) -> str:
    """A plausible value for a string field, from its format and name."""
    lowered = name.lower()
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2030-01-01T00:00:00Z"
    if fmt == "date":
        return "2030-01-01"
    if fmt == "uuid":
        return "{{$guid}}"
    if "email" in lowered:
        return f"someone+{UNIQUE}@example.com"
    if "phone" in lowered:
        return "+61400000000"
    if lowered == "audience":
        return f"https://api-{UNIQUE}.example.com"
    if lowered.endswith(("url", "uri", "urls", "uris", "endpoint", "logo", "picture")):
        return "https://example.com/callback"
    if lowered.endswith("color") or lowered.endswith("color_dark"):
        return "#0a66c2"
    if lowered == "key" or lowered.endswith("_key"):
        return f"example_key_{UNIQUE}"
    if lowered == "handle":
        return f"example-{UNIQUE}"
    if lowered == "name" or lowered.endswith("_name"):
        return f"Example {UNIQUE}"
    if "description" in lowered:
        return "Made from the Kindling Postman collection"
    return "example"


class _Resolver:
    """Follows local ``$ref``s into ``components.schemas`` to sketch example bodies."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._schemas: Mapping[str, Any] = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 10:
            name = str(schema["$ref"]).rsplit("/", 1)[-1]
            schema = self._schemas.get(name, {})
            seen += 1
        return schema

    def example(self, schema: Mapping[str, Any], depth: int = 0, name: str = "") -> Any:
        """A value the schema accepts: enums take their first member, strings a value
        fitting their format and name; optional nullable fields and optional references
        to other objects (``*_id``, ``*_code``) are left out of objects."""
        schema = self.resolve(schema)
        if "enum" in schema and schema["enum"]:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if depth >= MAX_EXAMPLE_DEPTH:
                return {}
            properties: Mapping[str, Any] = schema.get("properties", {})
            required = set(schema.get("required", []))
            return {
                key: self.example(sub, depth + 1, key)
                for key, sub in properties.items()
                if key in required
                or not (self.resolve(sub).get("nullable") or _REFERENCE.search(key.lower()))
            }
        if kind == "array":
            if depth >= MAX_EXAMPLE_DEPTH:
                return []
            item = schema.get("items")
            return [self.example(item, depth + 1, name)] if isinstance(item, Mapping) else []
        if kind == "integer" or kind == "number":
            return 1
        if kind == "boolean":
            return False
        return _string_example(name, schema)


def _query_value(path: str, parameter: Mapping[str, Any], resolver: _Resolver) -> str:
    name = str(parameter["name"])
    variable = _QUERY_VARIABLES.get((path, name))
    if variable:
        return "{{" + variable + "}}"
    value = resolver.example(parameter.get("schema", {"type": "string"}), 1, name)
    return json.dumps(value) if isinstance(value, bool | int | float) else str(value)


def _url(path: str, parameters: list[Mapping[str, Any]], resolver: _Resolver) -> dict[str, Any]:
    postman_path = _PATH_PARAM.sub(lambda m: ":" + m.group(1), path)
    query = [
        {
            "key": p["name"],
            "value": _query_value(path, p, resolver) if p.get("required") else "",
            "disabled": not p.get("required", False),
        }
        for p in parameters
        if p.get("in") == "query"
    ]
    url: dict[str, Any] = {
        "raw": DOMAIN_VAR + postman_path,
        "host": [DOMAIN_VAR],
        "path": [segment for segment in postman_path.split("/") if segment],
    }
    if query:
        enabled = [q for q in query if not q["disabled"]]
        if enabled:
            url["raw"] += "?" + "&".join(f"{q['key']}={q['value']}" for q in enabled)
        url["query"] = query
    variables = []
    for p in parameters:
        if p.get("in") != "path":
            continue
        enum = p.get("schema", {}).get("enum")
        value = str(enum[0]) if enum else "{{" + _variable(str(p["name"])) + "}}"
        variables.append({"key": p["name"], "value": value})
    if variables:
        url["variable"] = variables
    return url


def _body(
    request_body: Mapping[str, Any], resolver: _Resolver
) -> tuple[dict[str, Any], str | None]:
    content: Mapping[str, Any] = request_body.get("content", {})
    if "multipart/form-data" in content:
        schema = resolver.resolve(content["multipart/form-data"].get("schema", {}))
        fields = []
        for name, sub in schema.get("properties", {}).items():
            sub = resolver.resolve(sub)
            is_file = sub.get("format") == "binary"
            fields.append(
                {"key": name, "type": "file", "src": []}
                if is_file
                else {"key": name, "value": "", "type": "text"}
            )
        return {"mode": "formdata", "formdata": fields}, None
    schema = content.get("application/json", {}).get("schema", {"type": "object"})
    example = resolver.example(schema)
    return _raw_json(example if isinstance(example, dict) else {}), "application/json"


def _raw_json(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "mode": "raw",
        "raw": json.dumps(value, indent=2),
        "options": {"raw": {"language": "json"}},
    }


def declared_status(operation: Mapping[str, Any]) -> int:
    """The one 2xx status the operation declares (200 if it declares none)."""
    codes = sorted(int(code) for code in operation.get("responses", {}) if str(code)[0] == "2")
    return codes[0] if codes else 200


def _request(
    path: str,
    method: str,
    operation: Mapping[str, Any],
    resolver: _Resolver,
    id_prefix: str = "request",
) -> dict[str, Any]:
    parameters: list[Mapping[str, Any]] = list(operation.get("parameters", []))
    headers = [{"key": "Accept", "value": "application/json"}]
    request: dict[str, Any] = {"method": method.upper(), "header": headers}
    if "requestBody" in operation:
        body, content_type = _body(operation["requestBody"], resolver)
        if content_type:
            headers.append({"key": "Content-Type", "value": content_type})
        request["body"] = body
    request["url"] = _url(path, parameters, resolver)
    scope = operation.get("x-scope")
    request["description"] = (
        f"`{method.upper()} {path}` — scope `{scope}`." if scope else f"`{method.upper()} {path}`."
    )
    if operation.get("security") == []:
        request["auth"] = {"type": "noauth"}
    return {
        "id": _id(id_prefix, operation.get("operationId", f"{method} {path}")),
        "name": str(operation.get("summary") or operation.get("operationId") or path),
        "event": [_script("test", _status_test(declared_status(operation)))],
        "request": request,
        "response": [],
    }


@dataclass(frozen=True)
class SmokeStep:
    """One request of the Smoke folder: an operation with a body or query of its own, and
    what its answer must show (``check``) or hands on (``store``), each as
    (property path in the JSON answer, collection variable)."""

    operation_id: str
    body: Mapping[str, Any] | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    store: tuple[str, str] | None = None
    check: tuple[str, str] | None = None


def _crud(
    create: str,
    read: str,
    listing: str,
    delete: str,
    body: Mapping[str, Any],
    id_path: str,
    variable: str,
    read_path: str,
    query: Mapping[str, str] | None = None,
) -> tuple[SmokeStep, ...]:
    """Create, read, list, delete: one resource's part of the Smoke folder."""
    by_id = dict(query or {})
    return (
        SmokeStep(create, body=body, store=(id_path, variable)),
        SmokeStep(read, query=by_id, check=(read_path, variable)),
        SmokeStep(listing),
        SmokeStep(delete, query=by_id),
    )


SMOKE: tuple[SmokeStep, ...] = (
    *_crud(
        "createUser",
        "getUserData",
        "getUsers",
        "deleteUser",
        {
            "profile": {"given_name": "Smoke", "family_name": f"Test {UNIQUE}"},
            "identities": [{"type": "email", "details": {"email": f"smoke-{UNIQUE}@example.com"}}],
        },
        "id",
        "user_id",
        "id",
        query={"id": "{{user_id}}"},
    ),
    *_crud(
        "createOrganization",
        "getOrganization",
        "getOrganizations",
        "deleteOrganization",
        {"name": f"Smoke organization {UNIQUE}"},
        "organization.code",
        "org_code",
        "code",
        query={"code": "{{org_code}}"},
    ),
    *_crud(
        "CreateRole",
        "GetRole",
        "GetRoles",
        "DeleteRole",
        {
            "name": f"Smoke role {UNIQUE}",
            "key": f"smoke_role_{UNIQUE}",
            "description": "Made by the Smoke folder",
        },
        "role.id",
        "role_id",
        "role.id",
    ),
    *_crud(
        "createApplication",
        "getApplication",
        "getApplications",
        "deleteApplication",
        {"name": f"Smoke application {UNIQUE}", "type": "m2m"},
        "application.id",
        "application_id",
        "application.id",
    ),
    *_crud(
        "addAPIs",
        "getAPI",
        "getAPIs",
        "deleteAPI",
        {"name": f"Smoke API {UNIQUE}", "audience": f"https://smoke-{UNIQUE}.example.com"},
        "api.id",
        "api_id",
        "api.id",
    ),
)


def _smoke_request(
    step: SmokeStep, path: str, method: str, operation: Mapping[str, Any], resolver: _Resolver
) -> dict[str, Any]:
    item = _request(path, method, operation, resolver, id_prefix="smoke")
    request = item["request"]
    if step.body is not None:
        request["body"] = _raw_json(step.body)
    if step.query:
        url = request["url"]
        url["query"] = [
            {"key": key, "value": value, "disabled": False} for key, value in step.query.items()
        ]
        url["raw"] = (
            url["raw"].split("?")[0]
            + "?"
            + "&".join(f"{key}={value}" for key, value in step.query.items())
        )
    status = declared_status(operation)
    lines = _status_test(status)
    if step.store is not None:
        where, variable = step.store
        lines += [
            f"if (pm.response.code === {status}) {{",
            f"    pm.collectionVariables.set({_js_string(variable)}, "
            f"pm.response.json(){_js_path(where)});",
            "}",
        ]
    if step.check is not None:
        where, variable = step.check
        lines += [
            'pm.test("answers the object the Smoke folder made", function () {',
            f"    pm.expect(pm.response.json(){_js_path(where)})"
            f".to.eql(pm.collectionVariables.get({_js_string(variable)}));",
            "});",
        ]
    item["event"] = [_script("test", lines)]
    return item


def _operations(openapi: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for path, item in openapi.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is not None:
                yield path, method, operation


def _variables(collection_items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The collection variables: the token cache, and every path variable's default."""
    names = dict.fromkeys((TOKEN_VARIABLE, TOKEN_EXPIRY_VARIABLE, TOKEN_OWNER_VARIABLE), "")
    stack = list(collection_items)
    while stack:
        item = stack.pop(0)
        if "item" in item:
            stack[:0] = item["item"]
            continue
        for variable in item["request"]["url"].get("variable", []):
            found = _VARIABLE.fullmatch(str(variable["value"]))
            if found:
                names.setdefault(found.group(1), _variable_default(found.group(1)))
    return [{"key": key, "value": value, "type": "string"} for key, value in names.items()]


_VARIABLE = re.compile(r"{{([A-Za-z0-9_]+)}}")


def build_collection(openapi: Mapping[str, Any], name: str = COLLECTION_NAME) -> dict[str, Any]:
    """A Postman v2.1.0 collection of every operation in the OpenAPI document."""
    resolver = _Resolver(openapi)
    folders: dict[str, list[dict[str, Any]]] = {}
    for tag in openapi.get("tags", []):
        folders.setdefault(str(tag["name"]), [])
    by_id: dict[str, tuple[str, str, Mapping[str, Any]]] = {}
    for path, method, operation in _operations(openapi):
        tag = str((operation.get("tags") or ["Other"])[0])
        folders.setdefault(tag, []).append(_request(path, method, operation, resolver))
        by_id[str(operation.get("operationId"))] = (path, method, operation)
    smoke = [
        _smoke_request(step, *by_id[step.operation_id], resolver)
        for step in SMOKE
        if step.operation_id in by_id
    ]
    items: list[dict[str, Any]] = []
    if smoke:
        items.append({"id": _id("folder", SMOKE_FOLDER), "name": SMOKE_FOLDER, "item": smoke})
    items += [
        {"id": _id("folder", tag), "name": tag, "item": requests}
        for tag, requests in folders.items()
        if requests
    ]
    return {
        "info": {
            "_postman_id": _id("collection", name),
            "name": name,
            "description": (
                "Kindling's Management API. Select the Kindling environment (business_domain, "
                "client_id, client_secret): the collection's pre-request script gets and "
                "caches a token, or use Authorization → Get New Access Token. The Smoke folder "
                "creates, reads, lists and deletes a user, an organization, a role, an "
                "application and an API."
            ),
            "schema": COLLECTION_SCHEMA,
        },
        "auth": collection_auth(),
        "event": [_script("prerequest", PRE_REQUEST_SCRIPT)],
        "variable": _variables(items),
        "item": items,
    }


def build_environment(
    business_domain: str, client_id: str = "", client_secret: str = ""
) -> dict[str, Any]:
    """A Postman environment with ``business_domain``, ``client_id`` and ``client_secret``."""
    return {
        "id": _id("environment", ENVIRONMENT_NAME),
        "name": ENVIRONMENT_NAME,
        "values": [
            {
                "key": "business_domain",
                "value": business_domain,
                "type": "default",
                "enabled": True,
            },
            {"key": "client_id", "value": client_id, "type": "default", "enabled": True},
            {"key": "client_secret", "value": client_secret, "type": "secret", "enabled": True},
        ],
        "_postman_variable_scope": "environment",
    }
