"""A user's identities, password, MFA factors, sessions and claims refresh.

Identities are unique per type on the same normalized value as user creation
(social and enterprise identities per connection), enforced by the unique index.
Each user has at most one primary identity per type and exactly one as long as it
has any of that type: the first one added becomes primary, making another primary
demotes the old one, and deleting the primary promotes the oldest remaining one.
The primary email, username and phone are mirrored into the user's profile
(``preferred_email`` etc.). A user may lose its last identity (Kinde allows users
without identities, e.g. created with none).

Passwords are stored only as the hash the caller imports, with its method and
parameters; a bcrypt "hash" that is not a bcrypt hash is refused, so a plaintext
password is never stored by mistake.

Every change records its domain event in its transaction (``user.identity_created``,
``user.password_updated``, ...; see ``kindling.platform.event_types``). A call that
changes nothing (making the primary identity primary again, deleting the sessions of
a user who has none) records nothing; claims refresh changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import msgspec

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import Body, decode_body, given
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import identity_id
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import optional_bool
from kindling.resources.users.accounts.model import MfaFactor, PasswordHash, UserSession
from kindling.resources.users.accounts.repository import ACCOUNTS_REPO
from kindling.resources.users.model import Identity
from kindling.resources.users.repository import USERS_REPO
from kindling.resources.users.service import validate_identity_value

IDENTITY_TYPES = ("email", "username", "phone", "enterprise", "social")
CONNECTION_TYPES = ("enterprise", "social")
IDENTITY_PAGE = 10
MAX_IDENTITIES_PER_USER = 100
EXTERNAL_VALUE_MAX = 255
ID_MAX = 255
SESSIONS_MAX = 500
HASHING_METHODS = (
    "bcrypt",
    "crypt",
    "md5",
    "sha256",
    "wordpress",
    "pbkdf2",
    "firebase-scrypt",
    "aspnet-identity-v2",
)
HASH_MAX = 1024
PARAM_MAX = 1024
_BCRYPT = re.compile(r"\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
_COUNTRY = re.compile(r"[A-Za-z]{2,3}")
#: Far more sessions than a user can have: ``delete_sessions`` names each one it deletes.
_ALL_SESSIONS = 2**31 - 1


# --- request bodies (see kindling.platform.bodies) ---------------------------------


class IdentityBody(Body, frozen=True):
    """Kinde's ``POST /users/{user_id}/identities`` body."""

    type: object = None
    value: object = None
    connection_id: object = None
    phone_country_id: object = None


class IdentityUpdateBody(Body, frozen=True):
    """Kinde's ``PATCH /identities/{identity_id}`` body: only ``is_primary``."""

    is_primary: object = msgspec.UNSET


class PasswordBody(Body, frozen=True):
    """Kinde's ``PUT /users/{user_id}/password`` body: a hash and its method's inputs."""

    hashed_password: object = None
    hashing_method: object = None
    is_temporary_password: object = None
    salt: object = None
    salt_position: object = None
    variant: object = None
    signer_key: object = None
    salt_separator: object = None
    iterations: object = None
    rounds: object = None
    mem_cost: object = None


def _identity_data(identity: Identity) -> dict[str, Any]:
    """An identity as events show it (Kinde's identity object calls the value ``name``)."""
    return {
        "id": identity.id,
        "type": identity.type,
        "name": identity.value,
        "is_primary": identity.is_primary,
        "connection_id": identity.connection_id,
    }


def _require_user(uow: UnitOfWork, user_id: str) -> None:
    if not user_id or uow[USERS_REPO].seq_of(user_id) is None:
        raise NotFound("User not found", Code.USER_NOT_FOUND)


def _check_user(storage: Storage, user_id: str) -> None:
    with storage.read() as uow:
        _require_user(uow, user_id)


# --- identities -------------------------------------------------------------


@dataclass(frozen=True)
class IdentityPage:
    identities: list[Identity]
    has_more: bool


def list_identities(
    storage: Storage, user_id: str, starting_after: str | None, ending_before: str | None
) -> IdentityPage:
    """One page of the user's identities in creation order (Kinde's id cursors)."""
    if starting_after and ending_before:
        raise ValidationError(
            "only one of starting_after and ending_before may be given", Code.TOO_MANY_PARAMETERS
        )
    with storage.read() as uow:
        _require_user(uow, user_id)
        after = before = None
        if starting_after:
            after = uow[ACCOUNTS_REPO].identity_seq(user_id, starting_after)
            if after is None:
                raise ValidationError(
                    "starting_after is not an identity of this user", Code.INVALID_STARTING_AFTER
                )
        if ending_before:
            before = uow[ACCOUNTS_REPO].identity_seq(user_id, ending_before)
            if before is None:
                raise ValidationError(
                    "ending_before is not an identity of this user", Code.INVALID_ENDING_BEFORE
                )
        rows = uow[ACCOUNTS_REPO].list_identities(user_id, after, before, IDENTITY_PAGE + 1)
    has_more = len(rows) > IDENTITY_PAGE
    if has_more:
        rows = rows[1:] if before is not None else rows[:IDENTITY_PAGE]
    return IdentityPage(rows, has_more)


def _text(value: Any, field: str, max_length: int, code: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"{field} is required", derived(f"{code}_REQUIRED"))
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", derived(f"INVALID_{code}"))
    text = value.strip()
    if len(text) > max_length:
        raise ValidationError(
            f"{field} must be at most {max_length} characters", derived(f"{code}_TOO_LONG")
        )
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ValidationError(f"{field} contains control characters", derived(f"INVALID_{code}"))
    return text


def create_identity(storage: Storage, clock: Clock, user_id: str, body: Any) -> Identity:
    """Add an identity to a user (Kinde's ``POST /users/{user_id}/identities``).

    Records ``user.identity_created`` (with ``is_primary`` as stored: the first identity
    of its type becomes primary and is mirrored into the profile with it).
    """
    data = decode_body(body, IdentityBody)
    kind = data.type
    if kind is None:
        raise ValidationError("type is required", Code.IDENTITY_TYPE_REQUIRED)
    if kind not in IDENTITY_TYPES:
        raise ValidationError(
            "type must be one of " + ", ".join(IDENTITY_TYPES), Code.INVALID_IDENTITY_TYPE
        )
    raw = data.value
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValidationError("value is required", Code.VALUE_REQUIRED)
    if not isinstance(raw, str):
        raise ValidationError("value must be a string", Code.INVALID_VALUE)
    connection_id = data.connection_id
    if kind in CONNECTION_TYPES:
        value = _text(raw, "value", EXTERNAL_VALUE_MAX, "VALUE")
        connection = _text(connection_id, "connection_id", ID_MAX, "CONNECTION_ID")
    else:
        value = validate_identity_value(str(kind), raw)
        if connection_id is not None:
            raise ValidationError(
                "connection_id is only for social and enterprise identities",
                Code.CONNECTION_ID_NOT_ALLOWED,
            )
        connection = None
    country = data.phone_country_id
    if country is not None and (not isinstance(country, str) or not _COUNTRY.fullmatch(country)):
        raise ValidationError(
            "phone_country_id must be a country code such as au", Code.INVALID_PHONE_COUNTRY_ID
        )
    identity = Identity(
        id=identity_id(),
        user_id=user_id,
        type=str(kind),
        value=value,
        is_verified=False,
        is_primary=False,
        created_on=isoformat(clock.now()),
        connection_id=connection,
    )
    try:
        with storage.transaction() as uow:
            if not uow[ACCOUNTS_REPO].lock_user(user_id):
                raise NotFound("User not found", Code.USER_NOT_FOUND)
            if connection is not None and not uow[ACCOUNTS_REPO].connection_exists(connection):
                raise NotFound("Connection not found", Code.CONNECTION_NOT_FOUND)
            existing = uow[ACCOUNTS_REPO].list_identities(
                user_id, None, None, MAX_IDENTITIES_PER_USER + 1
            )
            if len(existing) >= MAX_IDENTITIES_PER_USER:
                raise ValidationError(
                    f"a user can have at most {MAX_IDENTITIES_PER_USER} identities",
                    Code.TOO_MANY_IDENTITIES,
                )
            uow[ACCOUNTS_REPO].add_identity(identity)
            current = uow[ACCOUNTS_REPO].primary_identity(user_id, identity.type)
            if current is not None and current.id == identity.id:
                # The first identity of its type becomes the primary one.
                uow[ACCOUNTS_REPO].set_primary(user_id, identity.type, identity.id)
                identity = msgspec.structs.replace(identity, is_primary=True)
            uow.record(
                EventType.USER_IDENTITY_CREATED,
                {"user": {"id": user_id}, "identity": _identity_data(identity)},
            )
    except IntegrityViolation:
        raise AlreadyExists(
            f"This {kind} identity already exists", Code.IDENTITY_ALREADY_EXISTS
        ) from None
    return identity


def get_identity(storage: Storage, identity_id_: str) -> Identity:
    with storage.read() as uow:
        identity = uow[ACCOUNTS_REPO].get_identity(identity_id_)
    if identity is None:
        raise NotFound("Identity not found", Code.IDENTITY_NOT_FOUND)
    return identity


def _locked_identity(uow: UnitOfWork, identity_id_: str) -> Identity:
    """The identity, read again after locking its user (concurrent changes serialize)."""
    identity = uow[ACCOUNTS_REPO].get_identity(identity_id_)
    if identity is not None and uow[ACCOUNTS_REPO].lock_user(identity.user_id):
        identity = uow[ACCOUNTS_REPO].get_identity(identity_id_)
        if identity is not None:
            return identity
    raise NotFound("Identity not found", Code.IDENTITY_NOT_FOUND)


def update_identity(storage: Storage, identity_id_: str, body: Any) -> None:
    """Kinde's ``PATCH /identities/{id}``: only ``is_primary`` can change.

    Making an identity primary records ``user.identity_updated``; the demoted one and
    the mirrored profile field change with it and record nothing further.
    """
    data = decode_body(body, IdentityUpdateBody)
    if not given(data.is_primary):
        raise ValidationError("is_primary is required", Code.NO_FIELDS_TO_UPDATE)
    if not isinstance(data.is_primary, bool):
        raise ValidationError("is_primary must be true or false", Code.INVALID_IS_PRIMARY)
    make_primary = data.is_primary
    with storage.transaction() as uow:
        identity = _locked_identity(uow, identity_id_)
        if make_primary:
            uow[ACCOUNTS_REPO].set_primary(identity.user_id, identity.type, identity.id)
            if not identity.is_primary:
                uow.record(
                    EventType.USER_IDENTITY_UPDATED,
                    {
                        "user": {"id": identity.user_id},
                        "identity": _identity_data(
                            msgspec.structs.replace(identity, is_primary=True)
                        ),
                    },
                )
        elif identity.is_primary:
            raise ValidationError(
                "a user keeps one primary identity per type: make another one primary instead",
                Code.PRIMARY_IDENTITY_REQUIRED,
            )


def delete_identity(storage: Storage, identity_id_: str) -> None:
    """Delete an identity; if it was primary, the oldest remaining one of its type takes over.

    Records ``user.identity_deleted`` with the id of the identity promoted in its place
    (``promoted_identity_id``, None when it was not primary or was the last of its type).
    """
    with storage.transaction() as uow:
        identity = _locked_identity(uow, identity_id_)
        uow[ACCOUNTS_REPO].delete_identity(identity.id)
        promoted: str | None = None
        if identity.is_primary:
            successor = uow[ACCOUNTS_REPO].primary_identity(identity.user_id, identity.type)
            promoted = None if successor is None else successor.id
            uow[ACCOUNTS_REPO].set_primary(identity.user_id, identity.type, promoted)
        uow.record(
            EventType.USER_IDENTITY_DELETED,
            {
                "user": {"id": identity.user_id},
                "identity": {"id": identity.id, "type": identity.type},
                "promoted_identity_id": promoted,
            },
        )


# --- password ---------------------------------------------------------------


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _digest(value: str, size: int) -> bool:
    """A hex or base64 encoding of ``size`` bytes."""
    if len(value) == size * 2 and _HEX.fullmatch(value):
        return True
    decoded = _b64(value)
    return decoded is not None and len(decoded) == size


def _check_hash(method: str, value: str) -> None:
    ok = True
    if method == "bcrypt":
        ok = bool(_BCRYPT.fullmatch(value))
    elif method == "md5":
        ok = _digest(value, 16)
    elif method == "sha256":
        ok = _digest(value, 32)
    if not ok:
        raise ValidationError(
            f"hashed_password is not a {method} hash", Code.INVALID_HASHED_PASSWORD
        )


def _int_param(data: PasswordBody, name: str, low: int, high: int) -> int | None:
    value = getattr(data, name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(
            f"{name} must be an integer from {low} to {high}", derived(f"INVALID_{name.upper()}")
        )
    return value


def _str_param(data: PasswordBody, name: str) -> str | None:
    value = getattr(data, name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > PARAM_MAX:
        raise ValidationError(
            f"{name} must be a string of 1 to {PARAM_MAX} characters",
            derived(f"INVALID_{name.upper()}"),
        )
    if not _PRINTABLE.fullmatch(value):
        raise ValidationError(
            f"{name} contains invalid characters", derived(f"INVALID_{name.upper()}")
        )
    return value


_FIREBASE_ONLY = ("signer_key", "salt_separator", "rounds", "mem_cost")
_REQUIRED = {
    "pbkdf2": ("salt", "variant"),
    "firebase-scrypt": ("salt", "signer_key", "salt_separator", "rounds", "mem_cost"),
}
_REJECTED = {
    "firebase-scrypt": ("iterations", "variant"),
    "aspnet-identity-v2": ("salt", "salt_position", "iterations", "variant", *_FIREBASE_ONLY),
}


def _password_params(method: str, data: PasswordBody) -> dict[str, object]:
    params: dict[str, object] = {}
    for name in ("salt", "variant", "signer_key", "salt_separator"):
        text = _str_param(data, name)
        if text is not None:
            params[name] = text
    position = data.salt_position
    if position is not None:
        if position not in ("prefix", "suffix"):
            raise ValidationError(
                "salt_position must be prefix or suffix", Code.INVALID_SALT_POSITION
            )
        params["salt_position"] = position
    for name, low, high in (("iterations", 1, 10_000_000), ("rounds", 1, 16), ("mem_cost", 1, 20)):
        number = _int_param(data, name, low, high)
        if number is not None:
            params[name] = number
    for name in _REJECTED.get(method, _FIREBASE_ONLY):
        if name in params:
            raise ValidationError(
                f"{name} cannot be used with {method}", derived(f"{name.upper()}_NOT_ALLOWED")
            )
    for name in _REQUIRED.get(method, ()):
        if name not in params:
            raise ValidationError(
                f"{name} is required for {method}", derived(f"{name.upper()}_REQUIRED")
            )
    return params


def set_password(storage: Storage, clock: Clock, user_id: str, body: Any) -> None:
    """Import a password hash (Kinde's ``PUT /users/{user_id}/password``).

    Records ``user.password_updated`` with the hashing method and whether the password
    is temporary: never the hash or its salt.
    """
    data = decode_body(body, PasswordBody)
    hashed = data.hashed_password
    if hashed is None or hashed == "":
        raise ValidationError("hashed_password is required", Code.HASHED_PASSWORD_REQUIRED)
    if not isinstance(hashed, str):
        raise ValidationError("hashed_password must be a string", Code.INVALID_HASHED_PASSWORD)
    if len(hashed) > HASH_MAX:
        raise ValidationError(
            f"hashed_password must be at most {HASH_MAX} characters", Code.HASHED_PASSWORD_TOO_LONG
        )
    if not _PRINTABLE.fullmatch(hashed):
        raise ValidationError(
            "hashed_password contains spaces or control characters", Code.INVALID_HASHED_PASSWORD
        )
    method = data.hashing_method
    if method is None:
        method = "bcrypt"
    if method not in HASHING_METHODS:
        raise ValidationError(
            "hashing_method must be one of " + ", ".join(HASHING_METHODS),
            Code.INVALID_HASHING_METHOD,
        )
    _check_hash(str(method), hashed)
    params = _password_params(str(method), data)
    temporary = optional_bool(data.is_temporary_password, "is_temporary_password")
    password = PasswordHash(
        user_id=user_id,
        password_hash=hashed,
        hashing_method=str(method),
        is_temporary=bool(temporary),
        updated_on=isoformat(clock.now()),
        params=params,
    )
    with storage.transaction() as uow:
        _require_user(uow, user_id)
        uow[ACCOUNTS_REPO].set_password(password)
        uow.record(
            EventType.USER_PASSWORD_UPDATED,
            {
                "user": {"id": user_id},
                "hashing_method": password.hashing_method,
                "is_temporary_password": password.is_temporary,
            },
        )


def refresh_claims(storage: Storage, user_id: str) -> None:
    """Tokens are built from storage on every request, so there is no cache to drop."""
    _check_user(storage, user_id)


# --- MFA and sessions -------------------------------------------------------


def user_mfa(storage: Storage, user_id: str) -> MfaFactor | None:
    """The user's (first) environment-level MFA factor, or None when MFA is not set up."""
    with storage.read() as uow:
        _require_user(uow, user_id)
        factors = uow[ACCOUNTS_REPO].mfa_factors(user_id)
    return factors[0] if factors else None


def reset_mfa(storage: Storage, user_id: str) -> int:
    """Delete the user's environment-level MFA factors; one ``user.mfa_factor_deleted`` each."""
    with storage.transaction() as uow:
        _require_user(uow, user_id)
        factors = uow[ACCOUNTS_REPO].mfa_factors(user_id)
        deleted = uow[ACCOUNTS_REPO].delete_mfa_factors(user_id)
        for factor in factors:
            _record_factor_deleted(uow, factor)
        return deleted


def reset_mfa_factor(storage: Storage, user_id: str, factor_id: str) -> None:
    """Delete one environment-level factor; records ``user.mfa_factor_deleted``."""
    with storage.transaction() as uow:
        _require_user(uow, user_id)
        factors = {f.id: f for f in uow[ACCOUNTS_REPO].mfa_factors(user_id)}
        if not uow[ACCOUNTS_REPO].delete_mfa_factor(user_id, factor_id):
            raise NotFound("MFA factor not found", Code.MFA_FACTOR_NOT_FOUND)
        _record_factor_deleted(uow, factors[factor_id])


def _record_factor_deleted(uow: UnitOfWork, factor: MfaFactor) -> None:
    uow.record(
        EventType.USER_MFA_FACTOR_DELETED,
        {"user": {"id": factor.user_id}, "factor": {"id": factor.id, "type": factor.type}},
    )


def user_sessions(storage: Storage, user_id: str) -> tuple[list[UserSession], bool]:
    """The user's sessions (at most ``SESSIONS_MAX``) and whether there are more."""
    with storage.read() as uow:
        _require_user(uow, user_id)
        sessions = uow[ACCOUNTS_REPO].sessions(user_id, SESSIONS_MAX + 1)
    return sessions[:SESSIONS_MAX], len(sessions) > SESSIONS_MAX


def delete_sessions(storage: Storage, user_id: str) -> int:
    """Delete every session of the user; one ``user.session_deleted`` per session."""
    with storage.transaction() as uow:
        _require_user(uow, user_id)
        sessions = uow[ACCOUNTS_REPO].sessions(user_id, _ALL_SESSIONS)
        deleted = uow[ACCOUNTS_REPO].delete_sessions(user_id)
        for session in sessions:
            uow.record(
                EventType.USER_SESSION_DELETED,
                {"user": {"id": user_id}, "session": {"id": session.id}},
            )
        return deleted
