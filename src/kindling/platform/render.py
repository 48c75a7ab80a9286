"""Helpers that shape domain objects into Kinde's JSON, with strict types."""

from collections.abc import Sequence
from typing import Any


def compact(values: dict[str, Any], nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """Drop None values, except for fields the contract declares nullable."""
    return {k: v for k, v in values.items() if v is not None or k in nullable}


def success(message: str, code: str = "OK", **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def paged(
    key: str, items: Sequence[object], next_token: str | None, message: str = "Success"
) -> dict[str, Any]:
    """Kinde's page envelope; ``items`` are dicts or objects msgspec encodes (Structs)."""
    body: dict[str, Any] = {"code": "OK", "message": message, key: items}
    if next_token is not None:
        body["next_token"] = next_token
    return body
