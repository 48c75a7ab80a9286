"""Organization members: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MemberOrganization:
    """The organization row as membership needs it (code and name only)."""

    code: str
    name: str


@dataclass(frozen=True)
class MemberRole:
    """A role as membership shows it: public id, key, name."""

    id: str
    key: str
    name: str


@dataclass(frozen=True)
class MemberPermission:
    """A permission an organization user holds; ``roles`` are the roles granting it."""

    id: str
    key: str
    name: str
    description: str | None = None
    roles: tuple[MemberRole, ...] = ()


@dataclass(frozen=True)
class OrganizationMember:
    """A user in an organization, with the keys of the roles held there."""

    user_id: str
    joined_on: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    picture: str | None = None
    is_suspended: bool = False
    last_accessed_on: str | None = None
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrganizationUserMfaFactor:
    """An MFA factor a user enrolled in one organization."""

    id: str
    user_id: str
    org_code: str
    type: str
    created_on: str
    name: str | None = None
