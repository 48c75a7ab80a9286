"""Rotate, revoke and list the signing keys: the one path for the API, CLI and console.

Each change is one transaction with its event (``signing_key.rotated``,
``signing_key.revoked``, recorded by the keyring). The timeline a rotation follows and
what an emergency revoke does are described in ``kindling.platform.signing``; this
module validates input, works out how long the replaced key must stay published (the
longest access-token lifetime of any application: its last token must still verify),
and makes new keys before the transaction opens (RSA generation takes up to ~0.5 s,
the write lock is not held meanwhile).
"""

from __future__ import annotations

from typing import Any

from kindling.clock import isoformat
from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.errors import NotFound, ValidationError
from kindling.platform.keys import NEXT
from kindling.platform.signing import (
    DEFAULT_PUBLISH_DELAY,
    MAX_PUBLISH_DELAY,
    KeyState,
    Revocation,
    Rotation,
)
from kindling.platform.storage import UnitOfWork
from kindling.resources.applications.model import DEFAULT_ACCESS_TOKEN_LIFETIME
from kindling.resources.applications.service import LIFETIME_MAX, applications_page

#: Applications read at once to find the longest lifetime; beyond it, assume the maximum.
_LIFETIME_SCAN = 100_000


def publish_delay(value: object) -> int:
    """A rotation's publish delay in seconds: absent means ``DEFAULT_PUBLISH_DELAY``."""
    if value is None:
        return DEFAULT_PUBLISH_DELAY
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("publish_delay must be an integer", Code.INVALID_PUBLISH_DELAY)
    if not 0 <= value <= MAX_PUBLISH_DELAY:
        raise ValidationError(
            f"publish_delay must be between 0 and {MAX_PUBLISH_DELAY} seconds",
            Code.INVALID_PUBLISH_DELAY,
        )
    return value


def longest_token_lifetime(uow: UnitOfWork) -> int:
    """The longest ``access_token_lifetime`` of any application (Kinde's default if none)."""
    apps = applications_page(uow, None, _LIFETIME_SCAN)
    if len(apps) >= _LIFETIME_SCAN:
        return LIFETIME_MAX
    return max([DEFAULT_ACCESS_TOKEN_LIFETIME, *(a.access_token_lifetime for a in apps)])


def list_keys(ctx: Context) -> list[KeyState]:
    """Every signing key, revoked ones too, newest first, as it stands now."""
    with ctx.storage.read() as uow:
        return ctx.keyring.states(uow)


def rotate_keys(ctx: Context, delay: object = None) -> Rotation:
    """Publish a new key that signs after ``delay`` seconds (see ``publish_delay``).

    Raises ValidationError for a bad delay and Conflict while a rotation is pending.
    """
    seconds = publish_delay(delay)
    key = ctx.keyring.new_key()
    with ctx.storage.transaction() as uow:
        return ctx.keyring.rotate(uow, key, seconds, longest_token_lifetime(uow))


def revoke_key(ctx: Context, kid: str) -> Revocation | None:
    """Emergency revoke of ``kid`` (None if it already was). NotFound for an unknown kid.

    When ``kid`` signs and no key is waiting to, its replacement is made before the
    transaction (and, in the rare race where the states changed meanwhile, inside it).
    """
    states = {state.key.kid: state for state in list_keys(ctx)}
    target = states.get(kid)
    if target is None:
        raise NotFound(f"There is no signing key {kid}", Code.SIGNING_KEY_NOT_FOUND)
    pending = any(state.state == NEXT for state in states.values())
    spare = ctx.keyring.new_key() if target.signing and not pending else None
    with ctx.storage.transaction() as uow:
        return ctx.keyring.revoke(uow, kid, lambda: spare or ctx.keyring.new_key())


def key_data(state: KeyState) -> dict[str, Any]:
    """A key as the API and the CLI show it (never key material)."""
    key = state.key

    def when(value: float | None) -> str | None:
        return isoformat(value) if value else None

    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "state": state.state,
        "is_signing": state.signing,
        "is_published": state.published,
        "created_on": key.created_on,
        "activates_on": when(state.activates_at),
        "retired_on": key.retired_on or when(state.retired_at),
        "published_until": when(key.publish_until),
        "revoked_on": key.revoked_on,
    }
