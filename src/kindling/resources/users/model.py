"""Users and their identities: the domain objects, and the rule identities are unique on."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Identity:
    """An email, phone, username, social or enterprise identity of a user.

    ``connection_id`` is set for ``social`` and ``enterprise`` identities only.
    """

    id: str
    user_id: str
    type: str
    value: str
    is_verified: bool
    is_primary: bool
    created_on: str
    connection_id: str | None = None
    total_logins: int = 0
    last_login_on: str | None = None


@dataclass(frozen=True)
class User:
    id: str
    created_on: str
    email: str | None = None
    username: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    picture: str | None = None
    provided_id: str | None = None
    is_suspended: bool = False
    is_password_reset_requested: bool = False
    total_sign_ins: int = 0
    failed_sign_ins: int = 0
    last_signed_in: str | None = None
    identities: tuple[Identity, ...] = field(default=())


def normalize_identity(kind: str, value: str) -> str:
    """The form on which identities are unique: NFC, trimmed, case-folded (not phones)."""
    text = unicodedata.normalize("NFC", value).strip()
    return text if kind == "phone" else text.casefold()


def identity_key(kind: str, value: str, connection_id: str | None = None) -> str:
    """The value stored in ``user_identities.normalized``, unique per identity type.

    Email, username and phone are unique on their normalized form; social and
    enterprise identities (Kinde's ``POST /users/{id}/identities`` with a
    ``connection_id``) are unique per connection, so the connection is part of the key.
    Every writer of identities (user creation, bulk import, the Identities resource)
    must use this one function, or the unique index would compare unlike values.
    """
    normalized = normalize_identity(kind, value)
    if connection_id:
        return f"{connection_id}:{normalized}"
    return normalized
