"""Properties and property categories: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PropertyCategory:
    """A group of properties for one context (``usr``, ``org`` or ``app``)."""

    id: str
    name: str
    context: str
    created_on: str


@dataclass(frozen=True)
class Property:
    """A custom property definition; values are stored per user, organization or app."""

    id: str
    key: str
    name: str
    type: str
    context: str
    is_private: bool
    created_on: str
    category_id: str | None = None
    description: str | None = None
    is_kinde_property: bool = False


@dataclass(frozen=True)
class PropertyValue:
    """One property of a subject with its value (None when never set)."""

    property: Property
    value: str | None
