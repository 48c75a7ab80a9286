"""Following Kinde's two kinds of page cursors.

* ``next_token`` listings (``GET /users``, ``/organizations``, ``/roles``, ...): each page
  carries the opaque token of the next one; the last page has none.
* ``starting_after`` listings (``GET /api_keys``, ``/properties``, ``/search/users``, ...):
  the next page starts after the last item's ``id``; ``has_more`` says whether there is
  one (a listing without ``has_more`` ends at a short or empty page).

``Pager`` is the sans-I/O state machine that both the sync and the async iterators drive:
it builds the query of each request and reads each answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["Cursor", "Pager"]

Cursor = Literal["next_token", "starting_after"]


class Pager:
    """The queries of successive pages and the items of each answer."""

    def __init__(
        self,
        item_key: str,
        params: Mapping[str, Any] | None,
        page_size: int | None,
        cursor: Cursor | None,
    ) -> None:
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.item_key = item_key
        self.base = {k: v for k, v in (params or {}).items() if v is not None}
        for name in ("next_token", "starting_after", "ending_before"):
            if name in self.base and cursor is None:
                cursor = "next_token" if name == "next_token" else "starting_after"
        self.page_size = page_size
        self.cursor: Cursor | None = cursor
        self._position: str | None = (
            None if cursor is None else self.base.pop(cursor, None)  # a caller's start point
        )
        self.base.pop("ending_before", None)
        self._seen: set[str] = set()
        self.done = False

    def query(self) -> dict[str, Any]:
        """The query of the next request."""
        query = dict(self.base)
        if self.page_size is not None:
            query["page_size"] = self.page_size
        if self._position is not None and self.cursor is not None:
            query[self.cursor] = self._position
        return query

    def read(self, body: Any) -> list[dict[str, Any]]:
        """The items of one answer; sets ``done`` when no page follows it."""
        if not isinstance(body, dict):
            self.done = True
            return []
        raw = body.get(self.item_key)
        items = [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []
        cursor = self.cursor
        if cursor is None:  # not told: follow whatever the answer offers
            cursor = "next_token" if "next_token" in body else "starting_after"
            if cursor == "starting_after" and "has_more" not in body:
                self.done = True
                return items
            self.cursor = cursor
        following: str | None = None
        if cursor == "next_token":
            token = body.get("next_token")
            following = token if isinstance(token, str) and token else None
        elif items:
            has_more = body.get("has_more")
            more = (
                bool(has_more)
                if isinstance(has_more, bool)
                else self.page_size is None or len(items) >= self.page_size
            )
            last = items[-1].get("id")
            following = str(last) if more and last is not None else None
        if not items or following is None or following in self._seen:  # the end, or a loop
            self.done = True
        else:
            self._seen.add(following)
            self._position = following
        return items
