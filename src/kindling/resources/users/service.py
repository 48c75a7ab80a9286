"""Users: create with identities, read, update profile, delete, list with filters.

Emails, usernames and phones are identities, unique per environment on a
normalized form (NFC, trimmed, case-folded except phones) enforced by a unique
index, so concurrent creates of one email yield exactly one user. A user's
``email`` is its primary email identity (Kinde's ``preferred_email``): the first one,
unless another is made primary through the Identities resource. ``organization_code``
makes the new user a member of that (existing) organization in the same transaction.

Every change records its domain event in its transaction (Kinde's ``user.created``,
``user.updated``, ``user.deleted``; see ``kindling.platform.event_types``), shaped like
Kinde's webhook ``data.user``.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import UNSET, Body, decode_body, given
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import identity_id, user_id
from kindling.platform.pagination import page
from kindling.platform.storage import Storage
from kindling.platform.validation import optional_bool, optional_text
from kindling.resources.users.model import (
    Identity,
    IdentitySummary,
    User,
    UserSummary,
    normalize_identity,
)
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
#: A pinned user id (configuration as code): ``kp_`` and 1 to 64 ASCII letters, digits or
#: ``_``, the shape of Kinde's ``kp_<32 hex>`` ids that a round trip must keep.
PINNED_USER_ID = re.compile(r"kp_[A-Za-z0-9_]{1,64}")


# --- request bodies (see kindling.platform.bodies) ---------------------------------


class ProfileBody(Body, frozen=True):
    """``profile`` of Kinde's ``POST /user``."""

    given_name: object = None
    family_name: object = None
    picture: object = None


class IdentityDetailsBody(Body, frozen=True):
    """``identities[].details``: the value under the identity's type."""

    email: object = None
    phone: object = None
    username: object = None


class IdentityBody(Body, frozen=True):
    """One entry of ``identities`` in Kinde's ``POST /user``."""

    type: object = None
    details: object = None
    is_verified: object = None


class CreateUserBody(Body, frozen=True):
    """Kinde's ``POST /user`` body."""

    profile: object = None
    identities: object = None
    organization_code: object = None
    provided_id: object = None


class UpdateUserBody(Body, frozen=True):
    """Kinde's ``PATCH /user`` body: an absent field keeps its value; ``null`` clears a
    text field and leaves a flag as it is."""

    given_name: object = msgspec.UNSET
    family_name: object = msgspec.UNSET
    picture: object = msgspec.UNSET
    provided_id: object = msgspec.UNSET
    is_suspended: object = None
    is_password_reset_requested: object = None


# --- event data ---------------------------------------------------------------------

#: The profile fields a user event carries (Kinde's webhook ``data.user``), never secrets.
EVENT_FIELDS = (
    "id",
    "email",
    "username",
    "phone",
    "first_name",
    "last_name",
    "picture",
    "provided_id",
    "is_suspended",
    "is_password_reset_requested",
)


def user_event_data(user: User) -> dict[str, Any]:
    """The user as Kinde's user webhooks show it (``data.user``)."""
    return {name: getattr(user, name) for name in EVENT_FIELDS}


def updated_fields(before: User, after: User) -> list[str]:
    """The names of the profile fields that differ (identities and counters aside)."""
    return [
        f.name
        for f in msgspec.structs.fields(User)
        if f.name != "identities" and getattr(before, f.name) != getattr(after, f.name)
    ]


@dataclass(frozen=True)
class CreatedUser:
    user: User


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


def _identity(item: object, now: str, primary: set[str]) -> Identity:
    entry = decode_body(
        item, IdentityBody, "identity must be an object", derived("INVALID_IDENTITY")
    )
    kind = entry.type
    if not isinstance(kind, str) or kind not in IDENTITY_TYPES:
        raise ValidationError(
            "identity type must be email, phone or username", Code.INVALID_IDENTITY_TYPE
        )
    details = decode_body(
        entry.details, IdentityDetailsBody, "details must be an object", derived("INVALID_DETAILS")
    )
    verified = optional_bool(entry.is_verified, "is_verified") or False
    value = validate_identity_value(kind, getattr(details, kind))
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


def validate_user_id(value: object) -> str:
    """A pinned user id (``PINNED_USER_ID``)."""
    if not isinstance(value, str) or not PINNED_USER_ID.fullmatch(value):
        raise ValidationError(
            "id must be kp_ and 1 to 64 letters, digits or _", derived("INVALID_USER_ID")
        )
    return value


def create_user(storage: Storage, clock: Clock, body: Any, *, pinned_id: str | None = None) -> User:
    """Create a user from Kinde's ``POST /user`` body; all or nothing.

    Records ``user.created`` and, when ``organization_code`` is given,
    ``organization.user_added``, in the transaction that stores the user.
    ``pinned_id`` (configuration as code) is the id to give it instead of a new one
    (``validate_user_id``; ``USER_ALREADY_EXISTS`` when taken).
    """
    if pinned_id is not None:
        validate_user_id(pinned_id)
    data = decode_body(body, CreateUserBody, "body must be an object")
    profile = decode_body(
        data.profile, ProfileBody, "profile must be an object", derived("INVALID_PROFILE")
    )
    now = isoformat(clock.now())
    raw_identities = data.identities
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
    org_code = optional_text(data.organization_code, "organization_code", 64, "ORG_CODE")
    new_id = pinned_id or user_id()
    identities = [msgspec.structs.replace(i, user_id=new_id) for i in identities]

    def first(kind: str) -> str | None:
        return next((i.value for i in identities if i.type == kind), None)

    user = User(
        id=new_id,
        created_on=now,
        email=first("email"),
        username=first("username"),
        phone=first("phone"),
        first_name=optional_text(profile.given_name, "given_name", NAME_MAX, "FIRST_NAME"),
        last_name=optional_text(profile.family_name, "family_name", NAME_MAX, "LAST_NAME"),
        picture=optional_text(profile.picture, "picture", PICTURE_MAX, "PICTURE"),
        provided_id=optional_text(data.provided_id, "provided_id", PROVIDED_ID_MAX, "PROVIDED_ID"),
        identities=tuple(identities),
    )
    try:
        with storage.transaction() as uow:
            if org_code is not None and not uow[USERS_REPO].organization_exists(org_code):
                raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
            if pinned_id is not None and uow[USERS_REPO].get(pinned_id) is not None:
                raise AlreadyExists("A user with this id already exists", Code.USER_ALREADY_EXISTS)
            uow[USERS_REPO].add(user)
            if org_code is not None:
                uow[USERS_REPO].add_to_organization(user.id, org_code, now)
            organizations = [] if org_code is None else [{"code": org_code}]
            uow.record(
                EventType.USER_CREATED,
                {"user": {**user_event_data(user), "organizations": organizations}},
            )
            if org_code is not None:
                uow.record(
                    EventType.ORGANIZATION_USER_ADDED,
                    {
                        "organization": {"code": org_code},
                        "user": {"id": user.id},
                        "roles": [],
                        "permissions": [],
                    },
                )
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
    """Apply Kinde's ``PATCH /user`` fields; absent fields keep their value.

    Records ``user.updated`` (the profile after the change and the names of the fields
    that changed) unless nothing changed.
    """
    if not id_:
        raise ValidationError("id is required", Code.USER_ID_REQUIRED)
    data = decode_body(body, UpdateUserBody, "body must be an object")
    changes: dict[str, Any] = {}
    if given(data.given_name):
        changes["first_name"] = optional_text(data.given_name, "given_name", NAME_MAX, "FIRST_NAME")
    if given(data.family_name):
        changes["last_name"] = optional_text(data.family_name, "family_name", NAME_MAX, "LAST_NAME")
    if given(data.picture):
        changes["picture"] = optional_text(data.picture, "picture", PICTURE_MAX, "PICTURE")
    if given(data.provided_id):
        changes["provided_id"] = optional_text(
            data.provided_id, "provided_id", PROVIDED_ID_MAX, "PROVIDED_ID"
        )
    for flag, value in (
        ("is_suspended", data.is_suspended),
        ("is_password_reset_requested", data.is_password_reset_requested),
    ):
        if value is not None:
            changes[flag] = optional_bool(value, flag)
    with storage.transaction() as uow:
        user = uow[USERS_REPO].get(id_)
        if user is None:
            raise NotFound("User not found", Code.USER_NOT_FOUND)
        updated = msgspec.structs.replace(user, **changes)
        uow[USERS_REPO].update(updated)
        changed = updated_fields(user, updated)
        if changed:
            uow.record(
                EventType.USER_UPDATED,
                {"user": user_event_data(updated), "updated_fields": changed},
            )
    return updated


def delete_user(storage: Storage, id_: str | None) -> None:
    """Delete the user (its identities and memberships go with it); records ``user.deleted``."""
    if not id_:
        raise ValidationError("id is required", Code.USER_ID_REQUIRED)
    with storage.transaction() as uow:
        if not uow[USERS_REPO].delete(id_):
            raise NotFound("User not found", Code.USER_NOT_FOUND)
        uow.record(EventType.USER_DELETED, {"user": {"id": id_}})


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
            users = [
                msgspec.structs.replace(u, identities=tuple(found.get(u.id, []))) for u in users
            ]
        orgs = uow[USERS_REPO].organizations(ids) if with_organizations and ids else {}
    return UserListing(users, cursor, orgs)


def user_summaries_page(
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
) -> tuple[list[UserSummary], int | None]:
    """Kinde's ``GET /users``: ``list_users_page``'s page as the listing shows it, one
    ``UserSummary`` per user, read in one snapshot; ``with_organizations`` adds each
    user's organization codes (an empty list for none), ``with_identities`` its
    identities, both in the order they were added. Also returns the cursor position.

    Without an expansion the page is one statement, read without a transaction around it
    (``Storage.read(one_statement=True)``: no BEGIN/COMMIT, one round trip on PostgreSQL)."""
    expand = with_identities or with_organizations
    with storage.read(one_statement=not expand) as uow:
        repo = uow[USERS_REPO]
        rows = repo.list_summaries(
            after,
            size + 1,
            user_ids=_csv(user_ids),
            emails=[normalize_identity("email", e) for e in _csv(emails)],
            usernames=[normalize_identity("username", u) for u in _csv(usernames)],
            phones=[normalize_identity("phone", p) for p in _csv(phones)],
            has_organization=has_organization,
        )
        summaries, cursor = page(rows, size)
        if summaries and expand:
            ids = [s.id for s in summaries]
            found = repo.identities(ids) if with_identities else {}
            orgs = repo.organizations(ids) if with_organizations else {}
            summaries = [
                msgspec.structs.replace(
                    s,
                    organizations=list(orgs.get(s.id, ())) if with_organizations else UNSET,
                    identities=[IdentitySummary(i.type, i.value) for i in found.get(s.id, ())]
                    if with_identities
                    else UNSET,
                )
                for s in summaries
            ]
    return summaries, cursor


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
