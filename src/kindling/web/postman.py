"""A Postman collection (format v2.1.0) and environment for the Management API.

Built from our OpenAPI document (``kindling.web.openapi``), one folder per tag and
one request per operation. Authorization is set once, on the collection: OAuth 2.0
client credentials against ``{{business_domain}}/oauth2/token`` with the client
id and secret sent in the body, the audience ``{{business_domain}}/api`` added to
the token request body, and the token sent as ``Authorization: Bearer …``, as
Kinde's Postman guide configures it. The environment holds ``business_domain``,
``client_id`` and ``client_secret``. Ids are derived from names, so exporting twice
gives identical files.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
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
        ("addTokenTo", "header", "string"),
        ("headerPrefix", "Bearer", "string"),
    ]
    return {
        "type": "oauth2",
        "oauth2": [{"key": key, "value": value, "type": kind} for key, value, kind in attributes],
    }


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

    def example(self, schema: Mapping[str, Any], depth: int = 0) -> Any:
        schema = self.resolve(schema)
        if "enum" in schema and schema["enum"]:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if depth >= MAX_EXAMPLE_DEPTH:
                return {}
            properties: Mapping[str, Any] = schema.get("properties", {})
            return {name: self.example(sub, depth + 1) for name, sub in properties.items()}
        if kind == "array":
            if depth >= MAX_EXAMPLE_DEPTH:
                return []
            item = schema.get("items")
            return [self.example(item, depth + 1)] if isinstance(item, Mapping) else []
        if kind == "integer" or kind == "number":
            return 0
        if kind == "boolean":
            return False
        return ""


def _url(path: str, parameters: list[Mapping[str, Any]]) -> dict[str, Any]:
    postman_path = _PATH_PARAM.sub(lambda m: ":" + m.group(1), path)
    query = [
        {"key": p["name"], "value": "", "disabled": not p.get("required", False)}
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
            url["raw"] += "?" + "&".join(f"{q['key']}=" for q in enabled)
        url["query"] = query
    variables = [{"key": p["name"], "value": ""} for p in parameters if p.get("in") == "path"]
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
    raw = json.dumps(example if isinstance(example, dict) else {}, indent=2)
    return {"mode": "raw", "raw": raw, "options": {"raw": {"language": "json"}}}, (
        "application/json"
    )


def _request(
    path: str, method: str, operation: Mapping[str, Any], resolver: _Resolver
) -> dict[str, Any]:
    parameters: list[Mapping[str, Any]] = list(operation.get("parameters", []))
    headers = [{"key": "Accept", "value": "application/json"}]
    request: dict[str, Any] = {"method": method.upper(), "header": headers}
    if "requestBody" in operation:
        body, content_type = _body(operation["requestBody"], resolver)
        if content_type:
            headers.append({"key": "Content-Type", "value": content_type})
        request["body"] = body
    request["url"] = _url(path, parameters)
    scope = operation.get("x-scope")
    request["description"] = (
        f"`{method.upper()} {path}` — scope `{scope}`." if scope else f"`{method.upper()} {path}`."
    )
    if operation.get("security") == []:
        request["auth"] = {"type": "noauth"}
    return {
        "id": _id("request", operation.get("operationId", f"{method} {path}")),
        "name": str(operation.get("summary") or operation.get("operationId") or path),
        "request": request,
        "response": [],
    }


def build_collection(openapi: Mapping[str, Any], name: str = COLLECTION_NAME) -> dict[str, Any]:
    """A Postman v2.1.0 collection of every operation in the OpenAPI document."""
    resolver = _Resolver(openapi)
    folders: dict[str, list[dict[str, Any]]] = {}
    for tag in openapi.get("tags", []):
        folders.setdefault(str(tag["name"]), [])
    for path, item in openapi.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = str((operation.get("tags") or ["Other"])[0])
            folders.setdefault(tag, []).append(_request(path, method, operation, resolver))
    return {
        "info": {
            "_postman_id": _id("collection", name),
            "name": name,
            "description": (
                "Kindling's Management API. Select the Kindling environment (business_domain, "
                "client_id, client_secret), then Authorization → Get New Access Token."
            ),
            "schema": COLLECTION_SCHEMA,
        },
        "auth": collection_auth(),
        "item": [
            {"id": _id("folder", tag), "name": tag, "item": requests}
            for tag, requests in folders.items()
            if requests
        ],
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
