"""Our OpenAPI 3.0 document of the Management API, built from the operation registry.

Every operation registered with ``Router.operation`` appears with its method,
path (under ``/api/v1``), operation id, tag, required scope (``x-scope`` and the
OAuth 2.0 security requirement), exact success status and declared query
parameters. Request and response schemas come from ``openapi_schemas.json``
(schemas only, generated from the committed Kinde contract by
``scripts/gen_openapi_schemas.py``); an operation the file does not know gets a
generic object schema. An operation declared ``no_body`` documents its 2xx with no
``content``, as the spec does; a declared 404 references the body schema the route
answers (``Operation.not_found``), every other error ``error_response``. Two security
schemes are offered: a bearer JWT, and OAuth 2.0 client credentials against
``/oauth2/token``.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

from kindling import __version__
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.operations import Operation

API_PREFIX = "/api/v1"
TOKEN_PATH = "/oauth2/token"
BEARER_SCHEME = "kindeBearerAuth"
OAUTH_SCHEME = "kindeOAuth"
OPENAPI_VERSION = "3.0.3"
_METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
_PATH_PARAM = re.compile(r"{([^}]+)}")
_ACRONYMS = {
    "api": "API",
    "apis": "APIs",
    "mfa": "MFA",
    "sso": "SSO",
    "scim": "SCIM",
    "url": "URL",
    "urls": "URLs",
    "uris": "URIs",
    "id": "ID",
}
_ERROR_TEXT = {
    400: "Invalid request",
    401: "Missing or invalid bearer token",
    403: "The token lacks the required scope",
    404: "Not found",
    409: "Conflict",
    429: "Too many requests",
}


@functools.cache
def _schema_file() -> dict[str, Any]:
    text = resources.files("kindling.web").joinpath("openapi_schemas.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def known_operations() -> dict[str, Any]:
    """The per-operation schemas the generated file holds, keyed ``"METHOD /path"``."""
    operations: dict[str, Any] = _schema_file()["operations"]
    return operations


def summary(operation_id: str) -> str:
    """``getUserData`` -> ``Get user data``; ``getAPIs`` -> ``Get APIs``."""
    words = re.findall(r"[A-Z]{2,}s(?![a-z])|[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", operation_id)
    if not words:
        return operation_id
    out = [
        w if sum(c.isupper() for c in w) >= 2 else _ACRONYMS.get(w.lower(), w.lower())
        for w in words
    ]
    text = " ".join(out)
    return text[0].upper() + text[1:]


def _scope_description(scope: str) -> str:
    action, _, resource = scope.partition(":")
    return f"{action.capitalize()} {resource.replace('_', ' ')}".strip()


def _query_schema(kind: str) -> dict[str, Any]:
    if kind == "object":
        return {"type": "object", "additionalProperties": {"type": "string"}}
    if kind in ("string", "integer", "boolean", "number"):
        return {"type": kind}
    return {"type": "string"}


def _parameters(op: Operation, known: dict[str, Any]) -> list[dict[str, Any]]:
    by_key = {(p["in"], p["name"]): p for p in known.get("parameters", [])}
    params: list[dict[str, Any]] = []
    for name in _PATH_PARAM.findall(op.path):
        found = by_key.get(("path", name))
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": copy.deepcopy(found["schema"]) if found else {"type": "string"},
            }
        )
    for param in op.query:
        found = by_key.get(("query", param.name))
        schema = copy.deepcopy(found["schema"]) if found else _query_schema(param.kind)
        entry: dict[str, Any] = {
            "name": param.name,
            "in": "query",
            "required": param.required,
            "schema": schema,
        }
        if schema.get("type") == "object":
            entry["style"] = "deepObject"
            entry["explode"] = True
        params.append(entry)
    return params


def _error(op: Operation, status: int) -> dict[str, Any]:
    """An error response with the body schema ``op`` answers for ``status``: a declared
    404 is Kinde's ``not_found_response`` (``errors`` an object) unless the operation
    declares ``error_response`` for it (``Operation.error_body``), as the web layer does."""
    body = op.error_body(status).value
    return {
        "description": _ERROR_TEXT.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
    }


def _success(op: Operation, known: dict[str, Any]) -> dict[str, Any]:
    """The declared 2xx. A ``no_body`` operation's has no ``content``, as the spec
    declares it (a description only): the answer has no body and no Content-Type."""
    ok: dict[str, Any] = {"description": "Success"}
    if op.no_body:
        return ok
    success = known.get("responses", {})
    schema = success.get(str(op.status))
    if schema is None:
        schema = next((s for s in success.values() if s is not None), None)
    ok["content"] = {
        "application/json": {"schema": copy.deepcopy(schema) if schema else {"type": "object"}}
    }
    return ok


def _responses(op: Operation, known: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {str(op.status): _success(op, known)}
    errors = {400, 429}
    if not op.public:
        errors |= {401, 403}
    errors |= {s for s in op.declared_errors if s >= 400}
    for status in sorted(errors):
        responses[str(status)] = _error(op, status)
    return responses


def _request_body(op: Operation, known: dict[str, Any]) -> dict[str, Any]:
    body = known.get("request_body")
    if body is None:
        return {
            "required": False,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return {
        "required": bool(body["required"]),
        "content": {body["content_type"]: {"schema": copy.deepcopy(body["schema"])}},
    }


def operation_object(op: Operation) -> dict[str, Any]:
    known = known_operations().get(f"{op.method} {op.path}", {})
    item: dict[str, Any] = {
        "operationId": op.operation_id,
        "tags": [op.tag],
        "summary": summary(op.operation_id),
        "description": (
            "Public: no token is needed."
            if op.public
            else f"Requires an access token for the Management API with the `{op.scope}` scope."
        ),
        "parameters": _parameters(op, known),
        "responses": _responses(op, known),
    }
    if op.scope:
        item["x-scope"] = op.scope
    if op.body:
        item["requestBody"] = _request_body(op, known)
    if op.public:
        item["security"] = []
    else:
        item["security"] = [{BEARER_SCHEME: []}, {OAUTH_SCHEME: [op.scope] if op.scope else []}]
    return item


def build_document(
    operations: Sequence[Operation], server_urls: Iterable[str] = ()
) -> dict[str, Any]:
    """The OpenAPI 3.0 document for ``operations``; ``server_urls`` in preference order."""
    paths: dict[str, dict[str, Any]] = {}
    ordered = sorted(operations, key=lambda o: (o.path, _METHOD_ORDER.get(o.method, 9)))
    for op in ordered:
        paths.setdefault(API_PREFIX + op.path, {})[op.method.lower()] = operation_object(op)
    tags = sorted({op.tag for op in operations})
    servers = [{"url": url} for url in dict.fromkeys(server_urls)]
    scopes = sorted(set(MANAGEMENT_API_SCOPES) | {op.scope for op in operations if op.scope})
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Kindling Management API",
            "version": __version__,
            "description": (
                "Kinde's Management API as served by Kindling. Get a token with the OAuth 2.0 "
                "client credentials grant at `/oauth2/token` (audience `<issuer>/api`), or in "
                "the admin console (Applications → Test → Get token → Use test token)."
            ),
        },
        "servers": servers,
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "securitySchemes": {
                BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                OAUTH_SCHEME: {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": TOKEN_PATH,
                            "scopes": {s: _scope_description(s) for s in scopes},
                        }
                    },
                },
            },
            "schemas": copy.deepcopy(_schema_file()["schemas"]),
        },
    }
    return document
