"""A user's identities, password hash, MFA factors and sessions: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PasswordHash:
    """A user's imported password hash; never a plaintext password.

    ``params`` holds the method's extra inputs (salt, iterations, variant, ...).
    """

    user_id: str
    password_hash: str
    hashing_method: str
    is_temporary: bool
    updated_on: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class MfaFactor:
    """An enrolled MFA factor; ``org_code`` None means an environment-level factor."""

    id: str
    user_id: str
    type: str
    created_on: str
    org_code: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class UserSession:
    id: str
    user_id: str
    created_on: str
    org_code: str | None = None
    client_id: str | None = None
    user_agent: str | None = None
    ip_address: str | None = None
    expires_on: str | None = None
    last_active_on: str | None = None
