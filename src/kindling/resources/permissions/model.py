"""Permissions: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    """A permission defined for the business; its ``key`` is what tokens carry."""

    id: str
    key: str
    name: str
    created_on: str
    description: str | None = None
