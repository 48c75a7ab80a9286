"""User search: ``GET /search/users``."""

import re
from typing import Any

import msgspec

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.operations import Call, Router
from kindling.platform.params import ENDING_BEFORE, PAGE_SIZE, STARTING_AFTER, Query
from kindling.platform.render import compact
from kindling.resources.users.search import service

router = Router("Search")
_NULLABLE = (
    "created_on",
    "email",
    "failed_sign_ins",
    "last_signed_in",
    "picture",
    "provided_id",
    "total_sign_ins",
    "username",
)
#: JS clients send the deepObject as ``properties[key]=v`` (also ``[key][]`` / ``[key][0]``).
_DEEP = re.compile(r"properties\[([^\[\]]+)\](?:\[\d*\])?")
QUERY = Query.string("query")
API_SCOPES = Query.string("api_scopes")
PROPERTIES = Query.deep_object("properties")
EXPAND = Query.expand(service.EXPANSIONS)


def _add(found: dict[str, list[str]], key: str, value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValidationError("a property filter needs at least one value", Code.INVALID_PROPERTIES)
    for item in values:
        if not isinstance(item, str):
            raise ValidationError(
                "properties must map property keys to strings or lists of strings",
                Code.INVALID_PROPERTIES,
            )
        bucket = found.setdefault(key, [])
        if item not in bucket:
            bucket.append(item)


def parse_properties(call: Call) -> dict[str, list[str]]:
    """Both encodings of the ``properties`` deepObject: JS ``properties[key]=v`` pairs and
    the Python SDK's JSON object (``{"key": ["v"]}``, optionally wrapped in
    ``{"properties": {...}}``)."""
    found: dict[str, list[str]] = {}
    raw = call.param(PROPERTIES)
    if raw:
        try:
            decoded = msgspec.json.decode(raw.encode("utf-8"))
        except msgspec.DecodeError:
            raise ValidationError(
                "properties must be a JSON object or properties[key]=value pairs",
                Code.INVALID_PROPERTIES,
            ) from None
        if not isinstance(decoded, dict):
            raise ValidationError("properties must be a JSON object", Code.INVALID_PROPERTIES)
        inner = decoded.get("properties")
        if len(decoded) == 1 and isinstance(inner, dict):
            decoded = inner
        for key, value in decoded.items():
            _add(found, key, value)
    for name, value in call.query_items:
        match = _DEEP.fullmatch(name)
        if match is None:
            continue
        if "\x00" in name or "\x00" in value:
            raise ValidationError("properties contain a NUL character", Code.INVALID_PARAMETER)
        _add(found, match.group(1), value)
    return found


def result_json(result: service.SearchResult, expand: frozenset[str]) -> dict[str, Any]:
    user = result.user
    item: dict[str, Any] = {
        "id": user.id,
        "provided_id": user.provided_id,
        "email": user.email,
        "username": user.username,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "is_suspended": user.is_suspended,
        "picture": user.picture,
        "total_sign_ins": user.total_sign_ins,
        "failed_sign_ins": user.failed_sign_ins,
        "last_signed_in": user.last_signed_in,
        "created_on": user.created_on,
        "api_scopes": [
            {"org_code": org, "scope": scope, "api_id": api}
            for org, scope, api in result.api_scopes
        ],
    }
    if "organizations" in expand:
        item["organizations"] = list(result.organizations)
    if "identities" in expand:
        item["identities"] = [{"type": i.type, "identity": i.value} for i in result.identities]
    if "properties" in expand:
        item["properties"] = dict(result.properties)
    return compact(item, _NULLABLE)


@router.operation(
    "GET",
    "/search/users",
    scope="read:users",
    operation_id="searchUsers",
    query=(PAGE_SIZE, QUERY, API_SCOPES, PROPERTIES, STARTING_AFTER, ENDING_BEFORE, EXPAND),
)
def search_users(call: Call) -> dict[str, Any]:
    expand = call.param(EXPAND)
    results = service.search_users(
        call.ctx.storage,
        call.param(PAGE_SIZE),
        query=call.param(QUERY),
        starting_after=call.param(STARTING_AFTER),
        ending_before=call.param(ENDING_BEFORE),
        api_scopes=call.param(API_SCOPES),
        properties=parse_properties(call),
        expand=expand,
    )
    return {
        "code": "OK",
        "message": "Success",
        "results": [result_json(r, expand) for r in results],
    }
