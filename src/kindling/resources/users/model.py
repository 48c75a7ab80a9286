"""Users and their identities: the domain objects, and the rule identities are unique on."""

from __future__ import annotations

import unicodedata

import msgspec


class Identity(msgspec.Struct, frozen=True, gc=False):
    """An email, phone, username, social or enterprise identity of a user.

    ``connection_id`` is set for ``social`` and ``enterprise`` identities only.

    ``User`` and ``Identity`` are frozen msgspec Structs rather than frozen dataclasses:
    the same immutable value objects (keyword or positional construction, ``==``,
    ``hash``, ``repr``; ``msgspec.structs.replace`` for a changed copy), built about ten
    times faster, which shows wherever users are made in bulk (seeding, pages read back).
    A frozen dataclass sets each field through ``object.__setattr__``: 4.1-5.5 µs for a
    ``User`` and 3.6-4.4 µs for an ``Identity`` on this 2-core host, against 0.45 and
    0.33 µs as Structs; seeding users through ``add_many``, that was ~48 k of the ~176 k
    instructions per user (``bench/README.md``, issue 13). Neither holds anything that
    could form a reference cycle, hence ``gc=False``.
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


class User(msgspec.Struct, frozen=True, gc=False):
    """A user and their identities (see ``Identity`` on why this is a msgspec Struct)."""

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
    identities: tuple[Identity, ...] = ()


class IdentitySummary(msgspec.Struct, frozen=True, gc=False):
    """One of a listed user's identities (``GET /users?expand=identities``)."""

    type: str
    identity: str


class UserSummary(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A user as Kinde's ``GET /users`` lists it: one item of its ``users`` array.

    The fields are the item's, in its order, so ``msgspec.json.encode`` writes the item
    straight from this object, with no dict in between: a field with a ``None`` default is
    left out when it is None, as Kinde leaves out what a user does not have, while the
    fields the contract declares nullable (``total_sign_ins``, ``failed_sign_ins``,
    ``last_signed_in``, ``created_on``) and ``is_suspended`` are always written, null or
    not: their default is ``UNSET`` only so that the summary can be built positionally, in
    this order (``SqlUserRepository.list_summaries`` always passes all thirteen; keyword
    arguments cost msgspec a name lookup each, ~0.8 k instructions per user).
    ``organizations`` and ``identities`` appear only when the listing was asked to expand
    them. The listing reads these straight from the rows (``list_summaries``), with no
    ``User`` and no dict per user in between (``bench/README.md``, issue 13).
    """

    id: str
    provided_id: str | None = None
    phone: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_suspended: bool | msgspec.UnsetType = msgspec.UNSET
    picture: str | None = None
    total_sign_ins: int | None | msgspec.UnsetType = msgspec.UNSET
    failed_sign_ins: int | None | msgspec.UnsetType = msgspec.UNSET
    last_signed_in: str | None | msgspec.UnsetType = msgspec.UNSET
    created_on: str | None | msgspec.UnsetType = msgspec.UNSET
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
