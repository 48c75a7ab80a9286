"""Roles: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    """A role: a named bucket of permissions (and API scopes, system permissions).

    ``assignment_permission_id`` is the permission a user needs to assign the role
    to others (None: no permission required).
    """

    id: str
    key: str
    name: str
    created_on: str
    description: str | None = None
    is_default_role: bool = False
    assignment_permission_id: str | None = None
