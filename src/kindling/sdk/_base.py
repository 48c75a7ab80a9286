"""What the generated resource classes need from a client, and their request helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from kindling.sdk._pagination import Cursor

__all__ = ["AsyncCaller", "FileContent", "SyncCaller", "file_fields", "path_segment", "query_pairs"]

#: A file to upload: its bytes, ``(filename, bytes)`` or ``(filename, bytes, content type)``.
FileContent = bytes | tuple[str, bytes] | tuple[str, bytes, str]


class SyncCaller(Protocol):
    """The two calls of ``ManagementClient`` that its resources use."""

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
    ) -> Any: ...

    def paginate(
        self,
        path: str,
        *,
        item_key: str,
        params: Any = None,
        page_size: int | None = None,
        cursor: Cursor | None = None,
    ) -> Iterator[dict[str, Any]]: ...


class AsyncCaller(Protocol):
    """The two calls of ``AsyncManagementClient`` that its resources use."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
    ) -> Any: ...

    def paginate(
        self,
        path: str,
        *,
        item_key: str,
        params: Any = None,
        page_size: int | None = None,
        cursor: Cursor | None = None,
    ) -> AsyncIterator[dict[str, Any]]: ...


def path_segment(value: str) -> str:
    """One path parameter, percent-encoded so that it stays one segment."""
    text = str(value)
    if not text:
        raise ValueError("a path parameter cannot be empty")
    return quote(text, safe="")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def query_pairs(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query pairs: None is left out, booleans are ``true``/``false``, a list repeats the
    name, and a mapping is a ``style: deepObject`` parameter (``name[key]=value``)."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            for key, inner in value.items():
                items = inner if isinstance(inner, list | tuple) else [inner]
                pairs.extend((f"{name}[{key}]", _scalar(item)) for item in items)
        elif isinstance(value, list | tuple):
            pairs.extend((name, _scalar(item)) for item in value)
        else:
            pairs.append((name, _scalar(value)))
    return pairs


def file_fields(values: Mapping[str, FileContent]) -> dict[str, tuple[str, bytes, str]]:
    """Multipart file fields for httpx (bytes get a neutral name and content type)."""
    out: dict[str, tuple[str, bytes, str]] = {}
    for name, value in values.items():
        if isinstance(value, bytes | bytearray | memoryview):
            out[name] = (name, bytes(value), "application/octet-stream")
        elif len(value) == 2:
            out[name] = (value[0], value[1], "application/octet-stream")
        else:
            out[name] = (value[0], value[1], value[2])
    return out
