"""API keys: created and rotated with the key shown once, stored as a keyed hash, verified.

A key is ``kinde_`` followed by 43 random alphanumeric characters (~256 bits).
Only its HMAC (peppered from the master key) is stored, so lookups by hash are
exact and a leaked database reveals no usable key. Revoking (``DELETE``) keeps the
row with status ``revoked`` so verifications fail and the audit trail stays.

Creating, rotating, revoking and each successful (counted) verification record
``api_key.created``, ``.rotated``, ``.revoked`` and ``.verified`` in their
transaction; no event carries the key, its hash or any part of it.
"""

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass

from kindling.clock import Clock, isoformat
from kindling.crypto.client_secrets import SecretHasher
from kindling.platform.bodies import Body, decode_body
from kindling.platform.codes import Code
from kindling.platform.errors import NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import hex_id
from kindling.platform.storage import Storage
from kindling.platform.validation import optional_text, required_text
from kindling.resources.api_keys.model import ApiKey
from kindling.resources.api_keys.repository import API_KEYS_REPO
from kindling.resources.apis.service import api_scopes, find_api

KEY_TYPES = ("user", "organization", "environment")
STATUSES = ("active", "inactive", "revoked")
PREFIX = "kinde_"
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class IssuedKey:
    id: str
    key: str


@dataclass(frozen=True)
class Verification:
    is_valid: bool
    key: ApiKey | None


class ApiKeyBody(Body, frozen=True):
    """``POST /api_keys``."""

    name: object = None
    type: object = None
    api_id: object = None
    scope_ids: object = None
    user_id: object = None
    org_code: object = None


def _new_key() -> str:
    return PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(43))


def _key_ref(key_id: str) -> dict[str, object]:
    return {"api_key": {"id": key_id}}


def create_api_key(
    storage: Storage,
    hasher: SecretHasher,
    clock: Clock,
    body: dict[str, object],
    created_by: str | None,
) -> IssuedKey:
    data = decode_body(body, ApiKeyBody)
    name = required_text(data.name, "name", 128, "NAME")
    key_type = data.type
    if key_type not in KEY_TYPES:
        raise ValidationError("type must be user, organization or environment", Code.INVALID_TYPE)
    api_id = required_text(data.api_id, "api_id", 64, "API_ID")
    raw_scopes = data.scope_ids or []
    if not isinstance(raw_scopes, list) or not all(isinstance(s, str) for s in raw_scopes):
        raise ValidationError("scope_ids must be a list of scope ids", Code.INVALID_SCOPE_IDS)
    scope_ids: Sequence[str] = list(dict.fromkeys(raw_scopes))
    user_id = optional_text(data.user_id, "user_id", 64, "USER_ID")
    org_code = optional_text(data.org_code, "org_code", 64, "ORG_CODE")
    if key_type == "user" and user_id is None:
        raise ValidationError("a user key needs user_id", Code.USER_ID_REQUIRED)
    if key_type == "organization" and org_code is None:
        raise ValidationError("an organization key needs org_code", Code.ORG_CODE_REQUIRED)
    key = _new_key()
    issued = ApiKey(
        id="api_key_" + hex_id(),
        name=name,
        type=str(key_type),
        key_hash=hasher.hash(key),
        key_prefix=key[:6],
        key_suffix=key[-4:],
        status="active",
        created_on=isoformat(clock.now()),
        user_id=user_id,
        org_code=org_code,
        created_by=created_by,
    )
    with storage.transaction() as uow:
        if find_api(uow, api_id) is None:
            raise NotFound("API not found", Code.API_NOT_FOUND)
        known = {s.id for s in api_scopes(uow, api_id)}
        unknown = [s for s in scope_ids if s not in known]
        if unknown:
            raise ValidationError(f"the API has no scope {unknown[0]}", Code.SCOPE_NOT_FOUND)
        if user_id is not None and not uow[API_KEYS_REPO].user_exists(user_id):
            raise NotFound("User not found", Code.USER_NOT_FOUND)
        if org_code is not None and not uow[API_KEYS_REPO].org_exists(org_code):
            raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
        uow[API_KEYS_REPO].add(issued, api_id, scope_ids)
        uow.record(
            EventType.API_KEY_CREATED,
            {
                "api_key": {
                    "id": issued.id,
                    "name": issued.name,
                    "type": issued.type,
                    "status": issued.status,
                    "user_id": issued.user_id,
                    "org_code": issued.org_code,
                    "created_by": issued.created_by,
                    "api_id": api_id,
                    "scope_ids": list(scope_ids),
                }
            },
        )
    return IssuedKey(issued.id, key)


def get_api_key(storage: Storage, key_id: str) -> ApiKey:
    with storage.read() as uow:
        key = uow[API_KEYS_REPO].get(key_id)
    if key is None:
        raise NotFound("API key not found", Code.API_KEY_NOT_FOUND)
    return key


def list_api_keys(
    storage: Storage,
    starting_after: str | None,
    size: int,
    key_type: str | None,
    status: str | None,
    user_id: str | None,
    org_code: str | None,
) -> tuple[list[ApiKey], bool]:
    if key_type is not None and key_type not in ("organization", "user"):
        raise ValidationError("key_type must be organization or user", Code.INVALID_KEY_TYPE)
    if status is not None and status not in STATUSES:
        raise ValidationError("status must be active, inactive or revoked", Code.INVALID_STATUS)
    with storage.read() as uow:
        after = None
        if starting_after:
            after = uow[API_KEYS_REPO].seq_of(starting_after)
            if after is None:
                raise ValidationError(
                    "starting_after names no API key", Code.INVALID_STARTING_AFTER
                )
        rows = uow[API_KEYS_REPO].list_page(after, size + 1, key_type, status, user_id, org_code)
    return [key for _, key in rows[:size]], len(rows) > size


def rotate_api_key(storage: Storage, hasher: SecretHasher, key_id: str) -> IssuedKey:
    """Replace the key; the old value stops verifying at once."""
    key = _new_key()
    with storage.transaction() as uow:
        existing = uow[API_KEYS_REPO].get(key_id)
        if existing is None:
            raise NotFound("API key not found", Code.API_KEY_NOT_FOUND)
        if existing.status == "revoked":
            raise ValidationError("a revoked API key cannot be rotated", Code.API_KEY_REVOKED)
        uow[API_KEYS_REPO].set_key(key_id, hasher.hash(key), key[:6], key[-4:])
        uow.record(EventType.API_KEY_ROTATED, _key_ref(key_id))
    return IssuedKey(key_id, key)


def revoke_api_key(storage: Storage, key_id: str) -> None:
    """Revoke the key (a no-op, recording nothing, when it already is)."""
    with storage.transaction() as uow:
        existing = uow[API_KEYS_REPO].get(key_id)
        if existing is None:
            raise NotFound("API key not found", Code.API_KEY_NOT_FOUND)
        uow[API_KEYS_REPO].set_status(key_id, "revoked")
        if existing.status != "revoked":
            uow.record(EventType.API_KEY_REVOKED, _key_ref(key_id))


def verify_api_key(
    storage: Storage, hasher: SecretHasher, clock: Clock, value: object, ip: str | None
) -> Verification:
    """Check a presented key; a valid one has its count and last-verified time recorded."""
    if not isinstance(value, str) or not value:
        raise ValidationError("api_key is required", Code.API_KEY_REQUIRED)
    if len(value) > 256:
        return Verification(False, None)
    digest = hasher.hash(value)
    with storage.transaction() as uow:
        key = uow[API_KEYS_REPO].get_by_hash(digest)
        if key is None:
            return Verification(False, None)
        if key.status != "active":
            return Verification(False, key)
        uow[API_KEYS_REPO].record_verification(key.id, isoformat(clock.now()), ip)
        return Verification(True, uow[API_KEYS_REPO].get(key.id))
