"""Users: create with identities, read, update profile, delete, list with filters.

Emails, usernames and phones are identities, unique per environment on a
normalized form (NFC, trimmed, case-folded except phones) enforced by a unique
index, so concurrent creates of one email yield exactly one user. A user's
``email`` is its primary email identity (Kinde's ``preferred_email``): the first one,
unless another is made primary through the Identities resource. ``organization_code``
makes the new user a member of that (existing) organization in the same transaction.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.ids import identity_id, user_id
from kindling.platform.pagination import page
from kindling.platform.storage import Storage
from kindling.platform.validation import optional_bool, optional_text
from kindling.resources.users.model import Identity, User, normalize_identity
from kindling.resources.users.repository import USERS_REPO

EMAIL_MAX = 254
NAME_MAX = 64
USERNAME_MAX = 64
PHONE_MAX = 32
PICTURE_MAX = 2048
PROVIDED_ID_MAX = 255
MAX_IDENTITIES = 20
IDENTITY_TYPES = ("email", "phone", "username")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-.]{2,30}")
_USERNAME = re.compile(r"[^\s@\x00-\x1f\x7f]{1,64}")


@dataclass(frozen=True)
class CreatedUser:
    user: User


def _as_object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{field} must be an object", derived(f"INVALID_{field.upper()}"))
    return value


def validate_email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("email is required", Code.EMAIL_REQUIRED)
    email = value.strip()
    if len(email) > EMAIL_MAX:
        raise ValidationError(f"email must be at most {EMAIL_MAX} characters", Code.EMAIL_TOO_LONG)
    if not _EMAIL.fullmatch(email) or any(ord(c) < 0x20 for c in email):
        raise ValidationError("email is not a valid email address", Code.INVALID_EMAIL)
    return email


def validate_identity_value(kind: str, raw: Any) -> str:
    """Validate an email, phone or username identity value; return it trimmed."""
    if kind == "email":
        return validate_email(raw)
    if kind == "phone":
        if not isinstance(raw, str) or not _PHONE.fullmatch(raw.strip()):
            raise ValidationError("phone is not a valid phone number", Code.INVALID_PHONE)
        return raw.strip()
    if not isinstance(raw, str) or not _USERNAME.fullmatch(raw.strip()):
        raise ValidationError(
            f"username must be 1 to {USERNAME_MAX} characters without spaces or @",
            Code.INVALID_USERNAME,
        )
    return raw.strip()


def _identity(item: Any, now: str, primary: set[str]) -> Identity:
    entry = _as_object(item, "identity")
    kind = entry.get("type")
    if kind not in IDENTITY_TYPES:
        raise ValidationError(
            "identity type must be email, phone or username", Code.INVALID_IDENTITY_TYPE
        )
    details = _as_object(entry.get("details"), "details")
    verified = optional_bool(entry.get("is_verified"), "is_verified") or False
    value = validate_identity_value(kind, details.get(kind))
    is_primary = kind not in primary
    primary.add(kind)
    return Identity(
        id=identity_id(),
        user_id="",
        type=kind,
        value=value,
        is_verified=verified,
        is_primary=is_primary,
        created_on=now,
    )


def create_user(storage: Storage, clock: Clock, body: Any) -> User:
    """Create a user from Kinde's ``POST /user`` body; all or nothing."""
    data = _as_object(body, "body")
    profile = _as_object(data.get("profile"), "profile")
    now = isoformat(clock.now())
    raw_identities = data.get("identities")
    if raw_identities is None:
        raw_identities = []
    if not isinstance(raw_identities, list):
        raise ValidationError("identities must be a list", Code.INVALID_IDENTITIES)
    if len(raw_identities) > MAX_IDENTITIES:
        raise ValidationError("too many identities", Code.TOO_MANY_IDENTITIES)
    primary: set[str] = set()
    identities = [_identity(item, now, primary) for item in raw_identities]
    seen: set[tuple[str, str]] = set()
    for ident in identities:
        key = (ident.type, normalize_identity(ident.type, ident.value))
        if key in seen:
            raise ValidationError(f"the {ident.type} is given twice", Code.DUPLICATE_IDENTITY)
        seen.add(key)
    org_code = optional_text(data.get("organization_code"), "organization_code", 64, "ORG_CODE")
    new_id = user_id()
    identities = [replace(i, user_id=new_id) for i in identities]

    def first(kind: str) -> str | None:
        return next((i.value for i in identities if i.type == kind), None)

    user = User(
        id=new_id,
        created_on=now,
        email=first("email"),
        username=first("username"),
        phone=first("phone"),
        first_name=optional_text(profile.get("given_name"), "given_name", NAME_MAX, "FIRST_NAME"),
        last_name=optional_text(profile.get("family_name"), "family_name", NAME_MAX, "LAST_NAME"),
        picture=optional_text(profile.get("picture"), "picture", PICTURE_MAX, "PICTURE"),
        provided_id=optional_text(
            data.get("provided_id"), "provided_id", PROVIDED_ID_MAX, "PROVIDED_ID"
        ),
        identities=tuple(identities),
    )
    try:
        with storage.transaction() as uow:
            if org_code is not None and not uow[USERS_REPO].organization_exists(org_code):
                raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
            uow[USERS_REPO].add(user)
            if org_code is not None:
                uow[USERS_REPO].add_to_organization(user.id, org_code, now)
    except IntegrityViolation:
        raise AlreadyExists(
            "A user with this email, phone or username already exists", Code.USER_ALREADY_EXISTS
        ) from None
    return user


def get_user(storage: Storage, id_: str | None) -> User:
    if not id_:
        raise ValidationError("id is required", Code.USER_ID_REQUIRED)
    with storage.read() as uow:
        user = uow[USERS_REPO].get(id_)
    if user is None:
        raise NotFound("User not found", Code.USER_NOT_FOUND)
    return user


def update_user(storage: Storage, id_: str | None, body: Any) -> User:
    """Apply Kinde's ``PATCH /user`` fields; absent fields keep their value."""
    if not id_:
        raise ValidationError("id is required", Code.USER_ID_REQUIRED)
    data = _as_object(body, "body")
    changes: dict[str, Any] = {}
    if "given_name" in data:
        changes["first_name"] = optional_text(
            data["given_name"], "given_name", NAME_MAX, "FIRST_NAME"
        )
    if "family_name" in data:
        changes["last_name"] = optional_text(
            data["family_name"], "family_name", NAME_MAX, "LAST_NAME"
        )
    if "picture" in data:
        changes["picture"] = optional_text(data["picture"], "picture", PICTURE_MAX, "PICTURE")
    if "provided_id" in data:
        changes["provided_id"] = optional_text(
            data["provided_id"], "provided_id", PROVIDED_ID_MAX, "PROVIDED_ID"
        )
    for flag in ("is_suspended", "is_password_reset_requested"):
        if flag in data and data[flag] is not None:
            changes[flag] = optional_bool(data[flag], flag)
    with storage.transaction() as uow:
        user = uow[USERS_REPO].get(id_)
        if user is None:
            raise NotFound("User not found", Code.USER_NOT_FOUND)
        updated = replace(user, **changes)
        uow[USERS_REPO].update(updated)
    return updated


def delete_user(storage: Storage, id_: str | None) -> None:
    if not id_:
        raise ValidationError("id is required", Code.USER_ID_REQUIRED)
    with storage.transaction() as uow:
        if not uow[USERS_REPO].delete(id_):
            raise NotFound("User not found", Code.USER_NOT_FOUND)


def _csv(value: str | None) -> list[str]:
    if not value:
        return []
    items = [v.strip() for v in value.split(",") if v.strip()]
    if len(items) > 100:
        raise ValidationError("at most 100 values per filter", Code.TOO_MANY_FILTER_VALUES)
    return items


def list_users(
    storage: Storage,
    after: int | None,
    size: int,
    user_ids: str | None = None,
    emails: str | None = None,
    usernames: str | None = None,
    phones: str | None = None,
    with_identities: bool = False,
) -> tuple[list[User], int | None]:
    listing = list_users_page(
        storage, after, size, user_ids, emails, usernames, phones, with_identities=with_identities
    )
    return listing.users, listing.cursor


@dataclass(frozen=True)
class UserListing:
    """One page of users; ``organizations`` maps user ids to org codes when asked for."""

    users: list[User]
    cursor: int | None
    organizations: dict[str, list[str]]


def list_users_page(
    storage: Storage,
    after: int | None,
    size: int,
    user_ids: str | None = None,
    emails: str | None = None,
    usernames: str | None = None,
    phones: str | None = None,
    has_organization: bool | None = None,
    with_identities: bool = False,
    with_organizations: bool = False,
) -> UserListing:
    """Kinde's ``GET /users`` filters, keyset-paged, read in one snapshot."""
    with storage.read() as uow:
        rows = uow[USERS_REPO].list_page_filtered(
            after,
            size + 1,
            user_ids=_csv(user_ids),
            emails=[normalize_identity("email", e) for e in _csv(emails)],
            usernames=[normalize_identity("username", u) for u in _csv(usernames)],
            phones=[normalize_identity("phone", p) for p in _csv(phones)],
            has_organization=has_organization,
        )
        users, cursor = page(rows, size)
        ids = [u.id for u in users]
        if with_identities and users:
            found = uow[USERS_REPO].identities(ids)
            users = [replace(u, identities=tuple(found.get(u.id, []))) for u in users]
        orgs = uow[USERS_REPO].organizations(ids) if with_organizations and ids else {}
    return UserListing(users, cursor, orgs)


def get_user_with_organizations(storage: Storage, id_: str | None) -> tuple[User, list[str]]:
    """The user (with identities) and the codes of its organizations, in one snapshot."""
    if not id_:
        raise ValidationError("id is required", Code.USER_ID_REQUIRED)
    with storage.read() as uow:
        user = uow[USERS_REPO].get(id_)
        if user is None:
            raise NotFound("User not found", Code.USER_NOT_FOUND)
        orgs = uow[USERS_REPO].organizations([id_]).get(id_, [])
    return user, orgs


def identity_summaries(identities: Sequence[Identity]) -> list[dict[str, Any]]:
    return [{"type": i.type, "identity": i.value} for i in identities]
