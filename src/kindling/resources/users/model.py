"""Users and their identities: the domain objects, and the rule identities are unique on."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import msgspec


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


class IdentitySummary(msgspec.Struct, frozen=True, gc=False):
    """One of a listed user's identities (``GET /users?expand=identities``)."""

    type: str
    identity: str


class UserSummary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """A user as Kinde's ``GET /users`` lists it: one item of its ``users`` array.

    The fields are the item's, in its order, so ``msgspec.json.encode`` writes the item
    straight from this object, with no dict in between: a field with a ``None`` default is
    left out when it is None, as Kinde leaves out what a user does not have, while the
    fields the contract declares nullable (``total_sign_ins``, ``failed_sign_ins``,
    ``last_signed_in``, ``created_on``) have no default and are always written, null or
    not. ``organizations`` and ``identities`` appear only when the listing was asked to
    expand them. The listing reads these straight from the rows (``list_summaries``), with
    no ``User`` and no dict per user in between (``bench/README.md``, issue 13).
    """

    id: str
    provided_id: str | None = None
    phone: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_suspended: bool
    picture: str | None = None
    total_sign_ins: int | None
    failed_sign_ins: int | None
    last_signed_in: str | None
    created_on: str | None
    email: str | None = None
    organizations: list[str] | msgspec.UnsetType = msgspec.UNSET
    identities: list[IdentitySummary] | msgspec.UnsetType = msgspec.UNSET


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
