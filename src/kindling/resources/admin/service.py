"""The admin console's owner account: argon2id passwords, server-side sessions, throttling.

The owner account is created on first run with a random password that ``kindling
serve`` prints once; ``kindling admin set-password`` replaces it (and ends every
session). Sessions live in storage, keyed by the SHA-256 of the cookie value, so
signing out ends a session for real and a database copy holds no usable cookie.
Failed sign-ins are counted per (username, client address): after
``THROTTLE_MAX`` failures within ``THROTTLE_WINDOW`` seconds further attempts are
refused without checking the password until the window moves on.

Setting an account's password (first run, ``set-password``) records
``admin_account.password_changed`` in its transaction, naming the account, never the
password or its hash. Sessions, sign-in failures and the transparent re-hash of an
unchanged password on sign-in are bookkeeping and record nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kindling.clock import Clock, isoformat
from kindling.platform.codes import Code
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import KindlingError, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.keys import KEYS_REPO, StoredKey
from kindling.platform.storage import Storage, UnitOfWork
from kindling.resources.admin.repository import ADMIN_REPO
from kindling.resources.apis import service as apis_service
from kindling.resources.apis.model import Api, ApiAuthorization, ApiScope
from kindling.resources.applications import service as applications_service
from kindling.resources.applications.model import Application

OWNER_USERNAME = "admin"
SESSION_LIFETIME = 12 * 3600
SESSION_IDLE_TIMEOUT = 2 * 3600
TOUCH_INTERVAL = 60
THROTTLE_WINDOW = 15 * 60
THROTTLE_MAX = 5
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
USERNAME_MAX = 64

#: argon2id with argon2-cffi's defaults (RFC 9106's second recommended option:
#: t=3, m=64 MiB, p=4); ``check_needs_rehash`` upgrades hashes if these change.
_hasher = PasswordHasher()
_dummy_hash: str | None = None


class SignInFailed(KindlingError):
    code = "INVALID_CREDENTIALS"
    status_code = 401


class SignInThrottled(KindlingError):
    code = "TOO_MANY_ATTEMPTS"
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed sign-ins; try again later")
        self.retry_after = retry_after


@dataclass(frozen=True)
class AdminSessionView:
    """A live session as the console sees it."""

    token_hash: str
    account_id: str
    username: str
    csrf_token: str
    expires_at: int
    flash: str | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_password() -> str:
    """A random 24-character password (144 bits), URL-safe so it pastes cleanly."""
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _normalize_username(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("username is required", Code.USERNAME_REQUIRED)
    username = value.strip().lower()
    if len(username) > USERNAME_MAX or any(ord(c) < 0x21 for c in username):
        raise ValidationError("username is not valid", Code.INVALID_USERNAME)
    return username


def validate_new_password(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError("password is required", Code.PASSWORD_REQUIRED)
    if len(value) < PASSWORD_MIN:
        raise ValidationError(
            f"the password must have at least {PASSWORD_MIN} characters", Code.PASSWORD_TOO_SHORT
        )
    if len(value) > PASSWORD_MAX:
        raise ValidationError(
            f"the password must have at most {PASSWORD_MAX} characters", Code.PASSWORD_TOO_LONG
        )
    return value


def _password_changed(uow: UnitOfWork, account_id: str, username: str, created: bool) -> None:
    uow.record(
        EventType.ADMIN_ACCOUNT_PASSWORD_CHANGED,
        {"admin_account": {"id": account_id, "username": username}, "account_created": created},
    )


def ensure_owner(uow: UnitOfWork, clock: Clock) -> str | None:
    """Create the owner account if there is none; return its generated password (once)."""
    if uow[ADMIN_REPO].first_account() is not None:
        return None
    password = generate_password()
    account_id = "adm_" + secrets.token_hex(8)
    uow[ADMIN_REPO].add_account(
        account_id,
        OWNER_USERNAME,
        hash_password(password),
        isoformat(clock.now()),
    )
    _password_changed(uow, account_id, OWNER_USERNAME, created=True)
    return password


def set_password(
    storage: Storage, clock: Clock, password: object, username: object = OWNER_USERNAME
) -> bool:
    """Set an account's password (creating the account if absent) and end its sessions.

    Returns True when the account was created.
    """
    clean_username = _normalize_username(username)
    clean = validate_new_password(password)
    password_hash = hash_password(clean)
    now = isoformat(clock.now())
    try:
        with storage.transaction() as uow:
            account = uow[ADMIN_REPO].get_account(clean_username)
            if account is None:
                account_id = "adm_" + secrets.token_hex(8)
                uow[ADMIN_REPO].add_account(account_id, clean_username, password_hash, now)
                _password_changed(uow, account_id, clean_username, created=True)
                return True
            uow[ADMIN_REPO].set_password_hash(account.id, password_hash, now)
            uow[ADMIN_REPO].delete_account_sessions(account.id)
            _password_changed(uow, account.id, account.username, created=False)
            return False
    except IntegrityViolation:
        raise ValidationError("the account changed concurrently; retry", Code.CONFLICT) from None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _equalize_timing(password: str) -> None:
    """Spend as long as a real verification when the username does not exist."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    _verify(_dummy_hash, password)


def sign_in(
    storage: Storage, clock: Clock, username: object, password: object, client_ip: str
) -> tuple[str, AdminSessionView]:
    """Check the credentials; return a new session's cookie value and the session.

    Raises ``SignInThrottled`` (with ``retry_after`` seconds) once the (username,
    address) pair has ``THROTTLE_MAX`` failures in the window, and ``SignInFailed``
    for a wrong username or password (the same error for both).
    """
    name = username.strip().lower() if isinstance(username, str) else ""
    name = name[:USERNAME_MAX]
    secret = password if isinstance(password, str) else ""
    now = int(clock.now())
    since = now - THROTTLE_WINDOW
    with storage.read() as uow:
        failures = uow[ADMIN_REPO].count_failures(name, client_ip, since)
        oldest = uow[ADMIN_REPO].oldest_failure(name, client_ip, since)
        account = uow[ADMIN_REPO].get_account(name) if name else None
    if failures >= THROTTLE_MAX:
        raise SignInThrottled(max(1, (oldest or now) + THROTTLE_WINDOW - now))
    if account is None or not secret or len(secret) > PASSWORD_MAX:
        _equalize_timing(secret[:PASSWORD_MAX])
        ok = False
    else:
        ok = _verify(account.password_hash, secret)
    if not ok:
        with storage.transaction() as uow:
            uow[ADMIN_REPO].record_failure(name, client_ip, now)
            uow[ADMIN_REPO].prune_failures(since)
        raise SignInFailed("The username or password is not correct")
    assert account is not None
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    token_hash = hash_token(token)
    rehash = _hasher.check_needs_rehash(account.password_hash)
    with storage.transaction() as uow:
        uow[ADMIN_REPO].clear_failures(name, client_ip)
        uow[ADMIN_REPO].delete_expired_sessions(now)
        uow[ADMIN_REPO].add_session(token_hash, account.id, csrf, now, now + SESSION_LIFETIME)
        if rehash:
            uow[ADMIN_REPO].set_password_hash(account.id, hash_password(secret), isoformat(now))
    return token, AdminSessionView(
        token_hash, account.id, account.username, csrf, now + SESSION_LIFETIME
    )


def load_session(storage: Storage, clock: Clock, token: str | None) -> AdminSessionView | None:
    """The live session for a cookie value, or None (unknown, expired or idle too long)."""
    if not token or len(token) > 256:
        return None
    token_hash = hash_token(token)
    now = int(clock.now())
    with storage.read() as uow:
        found = uow[ADMIN_REPO].get_session(token_hash)
    if found is None:
        return None
    if found.expires_at <= now or found.last_seen_at + SESSION_IDLE_TIMEOUT <= now:
        with storage.transaction() as uow:
            uow[ADMIN_REPO].delete_session(token_hash)
        return None
    if now - found.last_seen_at >= TOUCH_INTERVAL:
        with storage.transaction() as uow:
            uow[ADMIN_REPO].touch_session(token_hash, now)
    return AdminSessionView(
        token_hash,
        found.account_id,
        found.username,
        found.csrf_token,
        found.expires_at,
        found.flash,
    )


def sign_out(storage: Storage, token_hash: str) -> None:
    with storage.transaction() as uow:
        uow[ADMIN_REPO].delete_session(token_hash)


def set_flash(storage: Storage, token_hash: str, message: str | None) -> None:
    with storage.transaction() as uow:
        uow[ADMIN_REPO].set_flash(token_hash, message)


# --- console use cases that read or change several resources at once ------------------


@dataclass(frozen=True)
class ApiAccess:
    """One API as seen from an application: authorized or not, and the granted scopes."""

    api: Api
    scopes: list[ApiScope]
    authorized: bool
    granted: frozenset[str]


def application_api_access(storage: Storage, application_id: str) -> list[ApiAccess]:
    """Every API with whether the application may get tokens for it, and which scopes."""
    with storage.read() as uow:
        if applications_service.find_application(uow, application_id) is None:
            raise NotFound("Application not found", Code.APPLICATION_NOT_FOUND)
        apis = apis_service.all_apis(uow)
        found = apis_service.application_authorizations(
            uow, application_id, [a.audience for a in apis]
        )
        by_api = {auth.api.id: auth for auth in found}
        return [
            ApiAccess(
                api=api,
                scopes=apis_service.api_scopes(uow, api.id),
                authorized=api.id in by_api,
                granted=frozenset(by_api[api.id].scopes) if api.id in by_api else frozenset(),
            )
            for api in apis
        ]


def set_application_api_access(
    storage: Storage,
    clock: Clock,
    application_id: str,
    api_id_: str,
    authorized: bool,
    scope_keys: Sequence[str],
) -> None:
    """Authorize the application for the API with exactly ``scope_keys``, or revoke it."""
    with storage.transaction() as uow:
        if applications_service.find_application(uow, application_id) is None:
            raise NotFound("Application not found", Code.APPLICATION_NOT_FOUND)
        apis_service.set_application_access(
            uow, clock, api_id_, application_id, authorized, scope_keys
        )


@dataclass(frozen=True)
class TokenCandidate:
    """An M2M application and the APIs it is authorized for (it can get a token)."""

    application: Application
    apis: list[ApiAuthorization]


def token_candidates(storage: Storage, limit: int = 500) -> list[TokenCandidate]:
    """M2M applications authorized for at least one API, in creation order."""
    with storage.read() as uow:
        apis = apis_service.all_apis(uow)
        audiences = [a.audience for a in apis]
        candidates: list[TokenCandidate] = []
        for application in applications_service.applications_page(uow, None, limit):
            if application.type != "m2m":
                continue
            found = apis_service.application_authorizations(uow, application.id, audiences)
            if found:
                candidates.append(TokenCandidate(application, found))
        return candidates


def signing_keys(storage: Storage) -> list[StoredKey]:
    """Published signing keys, newest first (the active one and retired ones)."""
    with storage.read() as uow:
        return uow[KEYS_REPO].list_usable()
