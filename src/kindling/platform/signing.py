"""The signing keyring: which key signs, which keys verify, which tokens are revoked.

Keys live in storage (``platform.keys``), private halves sealed. Each process keeps a
*view*: the published public keys, the unsealed private key of each key that signs or
will sign, and the ids of revoked tokens. Every request that signs or verifies asks
for the current view (``current()``), and that check is cheap:

* On SQLite ``PRAGMA data_version`` (``Storage.change_marker``) tells without a query
  whether anything was committed since this thread last looked; only then is the one
  row ``token_state.version`` read, and only when *that* moved are the key rows and the
  newly revoked token ids read. About 5 µs per check when nothing changed (measured).
* On PostgreSQL the marker is pushed: a trigger on ``token_state`` sends
  ``NOTIFY kindling_changes`` with the commit, and each process's listener moves its
  marker when it arrives (``platform/engine.py``, ``schema/v0024_change_notify.py``);
  the check is then about 2 µs (a lock and a ``poll`` of the listening socket). While
  the listener is not connected the marker is None and the version row is read on
  every check (one small indexed read, about 0.1-0.5 ms on a local server).

So a change committed by any process (a rotation, an emergency revoke, a revoked token)
is seen by every worker's very next request on SQLite and by the committing process's
next request on PostgreSQL; other processes and instances on PostgreSQL see it as soon as
the notification arrives (well under a second, ``tests/test_instances_pg.py``). A
reload never unseals a key twice: private keys are unsealed once per process, and only
for keys that sign (unsealing validates the RSA key, about 30 ms); a retired key
verifies with the public JWK.

**Rotation timeline (publish-before-sign, RELIABILITY-AND-USERS.md A7).** ``rotate``
adds the new key as ``next``: from that commit it is in every worker's JWKS, but
nothing signs with it until ``activates_at = now + publish_delay``. Then every worker
switches to it by the clock, with no further write (``key_states`` is a pure function
of the rows and the time). Our own workers have published it at once; the delay is for
verifiers elsewhere, which cache our JWKS for up to ``JWKS_MAX_AGE`` seconds (the
``Cache-Control: max-age`` it is served with), plus ``SKEW_MARGIN`` twice for clock
skew between hosts: ``DEFAULT_PUBLISH_DELAY`` = 300 + 2 × 5 = 310 s. The key it
replaces keeps verifying and stays published until ``publish_until`` = the switch +
the longest access-token lifetime of any application at rotation time + ``LEEWAY``,
after which every token it signed has expired. Only one rotation may be pending.

**Emergency revoke.** ``revoke`` takes a key out of the JWKS and out of every
worker's verification keys at once, so its tokens are refused from the next request
on. Revoking the key that signs makes the pending ``next`` key sign at once, or, if
there is none, a new key that signs at once: nothing can be published ahead in an
emergency, so verifiers elsewhere see an unknown ``kid`` until they refetch the JWKS.

**Revoked tokens (RFC 7009).** ``revoke_token`` records a ``jti`` until its token
expires; every worker refuses it from its next request on.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kindling.clock import Clock, isoformat
from kindling.crypto.errors import KeyMaterialError
from kindling.crypto.jws import ACCESS_TOKEN_TYP, Signer
from kindling.crypto.keys import (
    ALGORITHM,
    KeySealer,
    SigningKey,
    generate_private_key,
    public_jwk,
    public_key_from_jwk,
)
from kindling.platform.codes import Code
from kindling.platform.errors import ConfigurationError, Conflict, NotFound
from kindling.platform.event_types import EventType
from kindling.platform.ids import key_id
from kindling.platform.keys import (
    ACTIVE,
    KEYS_REPO,
    NEXT,
    RETIRED,
    REVOKED,
    KeyRepository,
    RevokedToken,
    StoredKey,
)
from kindling.platform.storage import Storage, UnitOfWork

log = logging.getLogger("kindling.keys")

#: Seconds our JWKS may be cached (its ``Cache-Control: public, max-age``).
JWKS_MAX_AGE = 300
#: Allowance for clock skew between hosts sharing a database.
SKEW_MARGIN = 5
#: How long a new key is published before it signs, by default (see the module docstring).
DEFAULT_PUBLISH_DELAY = JWKS_MAX_AGE + 2 * SKEW_MARGIN
#: The longest publish delay a rotation may ask for (a week).
MAX_PUBLISH_DELAY = 7 * 86_400
#: The bearer check's leeway on ``exp``: a retired key and a revoked ``jti`` are kept
#: this much longer than the tokens they concern could live.
LEEWAY = 60

#: Effective states, as ``key_states`` works them out (``expired``: a retired key past
#: its ``publish_until``, no longer published).
EXPIRED = "expired"


@dataclass(frozen=True)
class KeyState:
    """A key as it stands at one moment: its row and what the clock makes of it."""

    key: StoredKey
    #: ``next``, ``active``, ``retired``, ``expired`` or ``revoked``.
    state: str
    #: When it signs (or signed) from, Unix seconds; None for a key that never signed.
    activates_at: int | None
    #: When it stopped (or will stop) signing: its successor's ``activates_at``.
    retired_at: int | None

    @property
    def signing(self) -> bool:
        return self.state == ACTIVE

    @property
    def published(self) -> bool:
        return self.state in (NEXT, ACTIVE, RETIRED)


def _activation(key: StoredKey) -> int:
    return key.activates_at if key.activates_at is not None else 0


def key_states(keys: Sequence[StoredKey], now: float) -> list[KeyState]:
    """What each key is at ``now``; ``keys`` newest first (as the repository lists them).

    The signer is the ``next``/``active`` key with the latest ``activates_at`` that has
    come (the newest one on a tie); an older such key has been superseded and counts as
    retired from its successor's activation; a retired key is published until its
    ``publish_until`` (the signer always is). Pure: every process computes the same.
    """
    order = {key.kid: index for index, key in enumerate(keys)}
    candidates = [k for k in keys if k.status in (NEXT, ACTIVE)]
    activated = [k for k in candidates if _activation(k) <= now]
    signer = max(activated, key=lambda k: (_activation(k), -order[k.kid])) if activated else None
    states: list[KeyState] = []
    for key in keys:
        activates = _activation(key) if key.status in (NEXT, ACTIVE) else key.activates_at
        if key.status == REVOKED:
            states.append(KeyState(key, REVOKED, key.activates_at, None))
            continue
        if signer is not None and key.kid == signer.kid:
            states.append(KeyState(key, ACTIVE, activates, None))
            continue
        if key.status in (NEXT, ACTIVE) and _activation(key) > now:
            states.append(KeyState(key, NEXT, activates, None))
            continue
        retired_at: int | None = None
        if key.status in (NEXT, ACTIVE):
            later = [
                _activation(k)
                for k in activated
                if (_activation(k), -order[k.kid]) > (_activation(key), -order[key.kid])
            ]
            retired_at = min(later) if later else None
        published = key.publish_until is None or now < key.publish_until
        states.append(KeyState(key, RETIRED if published else EXPIRED, activates, retired_at))
    return states


def _next_transition(states: Sequence[KeyState], now: float) -> float:
    """The next moment ``key_states`` changes by the clock alone (inf if never)."""
    moments = [math.inf]
    for state in states:
        key = state.key
        if state.state == NEXT and key.activates_at is not None:
            moments.append(key.activates_at)
        if state.state in (RETIRED, ACTIVE) and key.publish_until is not None:
            if key.publish_until > now:
                moments.append(key.publish_until)
    return min(moments)


@dataclass(frozen=True)
class KeyringView:
    """One consistent picture of the keys and revocations, valid until ``valid_until``."""

    version: int
    keys: tuple[StoredKey, ...]
    #: Unsealed private keys of the keys that sign or will sign, by kid.
    private: Mapping[str, rsa.RSAPrivateKey]
    #: Public keys of every key that is not revoked, by kid (from the stored JWKs).
    public_all: Mapping[str, rsa.RSAPublicKey]
    #: Revoked token ids and their ``exp``.
    revoked: Mapping[str, int]
    signer_kid: str | None = None
    #: The published keys (JWKS, and what verifies), by kid.
    published: Mapping[str, rsa.RSAPublicKey] = field(default_factory=dict)
    jwks: Mapping[str, Any] = field(default_factory=lambda: {"keys": []})
    valid_until: float = math.inf

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The verification key for ``kid`` if it is published; None otherwise."""
        return self.published.get(kid)

    def is_revoked(self, jti: str) -> bool:
        return jti in self.revoked


def _timed(view: KeyringView, now: float) -> KeyringView:
    """``view`` with its clock-dependent parts (signer, published keys, JWKS) for ``now``."""
    states = key_states(view.keys, now)
    signer = next((s.key.kid for s in states if s.signing), None)
    rank = {ACTIVE: 0, NEXT: 1, RETIRED: 2}
    shown = sorted(
        (s for s in states if s.published), key=lambda s: rank.get(s.state, 3)
    )  # the signer first, for verifiers that take the first key
    published = {
        s.key.kid: view.public_all[s.key.kid] for s in shown if s.key.kid in view.public_all
    }
    jwks = {"keys": [dict(s.key.public_jwk) for s in shown if s.key.kid in published]}
    return replace(
        view,
        signer_kid=signer,
        published=published,
        jwks=jwks,
        valid_until=_next_transition(states, now),
    )


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: the new key (``next``) and the key it will replace."""

    key: KeyState
    previous: KeyState | None


@dataclass(frozen=True)
class Revocation:
    """What an emergency revoke did: the revoked key, and the key that signs instead."""

    key: KeyState
    previous_state: str
    replacement: KeyState | None


_EMPTY = KeyringView(version=-1, keys=(), private={}, public_all={}, revoked={})


class Keyring:
    """Thread-safe, per-process view of the signing keys and revoked tokens."""

    def __init__(self, storage: Storage, sealer: KeySealer, clock: Clock) -> None:
        self._storage = storage
        self._sealer = sealer
        self._clock = clock
        self._lock = threading.Lock()
        self._local = threading.local()
        self._view = _EMPTY
        self._signers: dict[tuple[str, str], Signer] = {}
        #: The last change marker any thread confirmed the view at (``current_if_known``).
        self._confirmed: Hashable | None = None

    # --- loading ---------------------------------------------------------------------

    def reload(self) -> None:
        """Load everything afresh and insist it is usable: the startup check.

        Raises ConfigurationError, naming the cause, when there is no signing key, when
        the master key is not the one that sealed the keys, or when the key that signs
        (or will) cannot be unsealed.
        """
        with self._lock:
            with self._storage.read() as uow:
                repo = uow[KEYS_REPO]
                version = repo.version()
                check = repo.seal_check()
                keys = repo.list_usable()
                revoked = repo.revoked_since(-1, int(self._clock.now()) - LEEWAY)
            if check is not None and not self._sealer.matches(check):
                raise ConfigurationError(MASTER_KEY_MISMATCH)
            view = self._build(version, keys, revoked, None, strict=True, verified=check)
            if view.signer_kid is None:
                raise ConfigurationError(NO_SIGNING_KEY)
            self._view = view
            self._local.marker = None
            self._confirmed = None

    def startup_check(self) -> None:
        """``reload``, then record the sealing key's check value if none was kept yet
        (databases set up before it existed), so later mismatches are named exactly."""
        self.reload()
        with self._storage.transaction() as uow:
            repo = uow[KEYS_REPO]
            if repo.seal_check() is None:
                repo.set_seal_check(self._sealer.check_value())

    def current(self) -> KeyringView:
        """The view as of now: re-read only when the database moved (see the module doc)."""
        return self.current_at(self._storage.change_marker())

    def current_at(self, marker: Hashable | None) -> KeyringView:
        """``current()`` for a change marker the caller has just read
        (``Storage.change_marker``), so that one request's checks share one read of it."""
        view = self._view
        if view.version < 0:
            self.reload()
            view = self._view
        if marker is None or marker != getattr(self._local, "marker", None):
            with self._storage.read(one_statement=True) as uow:
                version = uow[KEYS_REPO].version()
            if version != view.version:
                self._refresh()
            if marker is not None:
                self._local.marker = marker
                self._confirmed = marker
            view = self._view
        if self._clock.now() >= view.valid_until:
            with self._lock:
                if self._view.version == view.version:
                    self._view = _timed(self._view, self._clock.now())
                view = self._view
        return view

    def current_if_known(self) -> KeyringView | None:
        """``current()`` when it needs no database read on this thread, else None.

        That is when this thread has seen the engine's change marker at its present
        value and the view's clock-dependent parts are still valid: then ``current()``
        would return this very view. The event loop asks this to answer from memory and
        leaves the rest (a read, on PostgreSQL a round trip) to a worker thread.
        """
        return self.current_if_known_at(self._storage.change_marker())

    def current_if_known_at(self, marker: Hashable | None) -> KeyringView | None:
        """``current_if_known()`` for a change marker the caller has just read."""
        view = self._view
        if view.version < 0:
            return None
        if marker is None:
            return None
        # Seen by this thread, or by any thread since the last commit: a marker never
        # comes back to a value once it moved (SQLite's name one connection each).
        if marker != getattr(self._local, "marker", None) and marker != self._confirmed:
            return None
        if self._clock.now() >= view.valid_until:
            return None
        return view

    def _refresh(self) -> None:
        """Bring the view up to the stored version (newly revoked tokens only)."""
        with self._lock:
            old = self._view
            with self._storage.read() as uow:
                repo = uow[KEYS_REPO]
                version = repo.version()  # first: never claim a version whose rows we missed
                if version == old.version:
                    return
                keys = repo.list_usable()
                since = old.version if version > old.version else -1
                revoked = repo.revoked_since(since, int(self._clock.now()) - LEEWAY)
            self._view = self._build(
                version, keys, revoked, old if since >= 0 else None, strict=False
            )

    def _build(
        self,
        version: int,
        keys: Sequence[StoredKey],
        revoked: Sequence[RevokedToken],
        previous: KeyringView | None,
        strict: bool,
        verified: str | None = None,
    ) -> KeyringView:
        now = self._clock.now()
        old = previous or self._view
        public_all: dict[str, rsa.RSAPublicKey] = {}
        private: dict[str, rsa.RSAPrivateKey] = {}
        states = key_states(keys, now)
        for state in states:
            key = state.key
            try:
                public_all[key.kid] = old.public_all.get(key.kid) or public_key_from_jwk(
                    key.public_jwk
                )
            except KeyMaterialError as exc:
                if strict and state.state in (ACTIVE, NEXT):
                    raise ConfigurationError(_corrupt(key.kid, verified, str(exc))) from None
                log.error("%s", exc)
                continue
            if state.state not in (ACTIVE, NEXT):
                continue
            unsealed = old.private.get(key.kid)
            if unsealed is None:
                try:
                    unsealed = self._unseal(key)
                except KeyMaterialError as exc:
                    if strict:
                        raise ConfigurationError(_corrupt(key.kid, verified, str(exc))) from None
                    log.error("signing key %s cannot be used: %s", key.kid, exc)
                    continue
            private[key.kid] = unsealed
        alive = int(now) - LEEWAY
        merged = (
            {} if previous is None else {j: e for j, e in previous.revoked.items() if e > alive}
        )
        merged.update({t.jti: t.expires_at for t in revoked})
        view = KeyringView(
            version=version,
            keys=tuple(keys),
            private=private,
            public_all=public_all,
            revoked=merged,
        )
        return _timed(view, now)

    def _unseal(self, key: StoredKey) -> rsa.RSAPrivateKey:
        private = self._sealer.unseal(key.kid, key.sealed_private)
        if (
            private.public_key().public_numbers()
            != public_key_from_jwk(key.public_jwk).public_numbers()
        ):
            raise KeyMaterialError(
                f"signing key {key.kid}: the sealed private key does not match its public key"
            )
        return private

    # --- using -------------------------------------------------------------------------

    def signer(self) -> Signer:
        """The signer of access tokens (``typ: JWT``) with the key that signs now."""
        return self.signer_for(ACCESS_TOKEN_TYP)

    def signer_for(self, typ: str) -> Signer:
        """A signer with the key that signs now, for tokens of type ``typ``.

        Tokens that are not access tokens (webhook payloads: ``webhook+jwt``) must use a
        ``typ`` other than ``JWT``: the bearer check refuses every other type.
        """
        view = self.current()
        kid = view.signer_kid
        private = view.private.get(kid) if kid is not None else None
        if kid is None or private is None:
            raise ConfigurationError("there is no usable signing key")
        found = self._signers.get((kid, typ))
        if found is None:
            found = self._signers[(kid, typ)] = Signer(SigningKey(kid, private), typ)
        return found

    def public_keys(self) -> dict[str, rsa.RSAPublicKey]:
        return dict(self.current().published)

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The verification key for ``kid``: published now, or None."""
        return self.current().public_key(kid)

    def is_revoked(self, jti: str) -> bool:
        return self.current().is_revoked(jti)

    def jwks(self) -> dict[str, Any]:
        return dict(self.current().jwks)

    # --- changing (each in the caller's transaction) --------------------------------------

    def new_key(self) -> StoredKey:
        """A fresh RSA-2048 key, sealed, not stored (generating takes up to ~0.5 s, so
        callers make it before opening their transaction)."""
        kid = key_id()
        private = generate_private_key()
        return StoredKey(
            kid=kid,
            algorithm=ALGORITHM,
            public_jwk=public_jwk(kid, private.public_key()),
            sealed_private=self._sealer.seal(kid, private),
            status=NEXT,
            created_on=isoformat(self._clock.now()),
        )

    def install_first_key(self, uow: UnitOfWork, key: StoredKey) -> None:
        """The first run's key, in the transaction that creates the environment, so an
        environment never exists without one; records the sealing key's check value."""
        repo = uow[KEYS_REPO]
        repo.bump_version()
        repo.add(replace(key, status=ACTIVE, activates_at=int(self._clock.now())))
        repo.set_seal_check(self._sealer.check_value())

    def states(self, uow: UnitOfWork) -> list[KeyState]:
        """Every key (revoked ones too), newest first, as it stands now."""
        return key_states(uow[KEYS_REPO].list_all(), self._clock.now())

    def _check_sealer(self, repo: KeyRepository) -> None:
        stored = repo.seal_check()
        if stored is None:
            repo.set_seal_check(self._sealer.check_value())
        elif not self._sealer.matches(stored):
            raise ConfigurationError(MASTER_KEY_MISMATCH)

    def rotate(
        self, uow: UnitOfWork, key: StoredKey, publish_delay: int, retain_for: int
    ) -> Rotation:
        """Publish ``key`` as ``next``, signing from ``now + publish_delay``; the key it
        replaces stays published until its last token (``retain_for`` s) has expired.

        Refused with Conflict while another rotation is pending. With no key signing at
        all (a database that lost its keys), ``key`` signs at once: nothing it replaces.
        """
        now = self._clock.now()
        repo = uow[KEYS_REPO]
        repo.bump_version()
        self._check_sealer(repo)
        before = self._settle(repo, now)
        pending = next((s for s in before if s.state == NEXT), None)
        if pending is not None:
            raise Conflict(
                f"the key {pending.key.kid} is already waiting to sign (from "
                f"{isoformat(_activation(pending.key))}); revoke it or wait",
                Code.SIGNING_KEY_ROTATION_PENDING,
            )
        current = next((s for s in before if s.signing), None)
        if current is None or publish_delay == 0:
            activates = int(now)  # signs at once
        else:
            activates = math.ceil(now + publish_delay)
        repo.add(replace(key, status=NEXT, activates_at=activates))
        if current is not None:
            repo.update_state(replace(current.key, publish_until=activates + retain_for + LEEWAY))
        after = {s.key.kid: s for s in self._settle(repo, now)}
        rotation = Rotation(
            key=after[key.kid], previous=after.get(current.key.kid) if current else None
        )
        uow.record(
            EventType.SIGNING_KEY_ROTATED,
            {
                "signing_key": _event_key(rotation.key),
                "previous_signing_key": _event_key(rotation.previous)
                if rotation.previous
                else None,
            },
        )
        return rotation

    def revoke(
        self, uow: UnitOfWork, kid: str, make_key: Callable[[], StoredKey]
    ) -> Revocation | None:
        """Take ``kid`` out of the JWKS and refuse its tokens at once (None if it already
        was revoked). If it signs, the ``next`` key signs at once instead, or a new key
        from ``make_key``. Raises NotFound for an unknown kid."""
        now = self._clock.now()
        repo = uow[KEYS_REPO]
        target = repo.get(kid)
        if target is None:
            raise NotFound(f"There is no signing key {kid}", Code.SIGNING_KEY_NOT_FOUND)
        if target.status == REVOKED:
            return None
        repo.bump_version()
        before = {s.key.kid: s for s in self._settle(repo, now)}
        was = before[kid]
        repo.update_state(replace(was.key, status=REVOKED, revoked_on=isoformat(now)))
        replacement_kid: str | None = None
        if was.signing:
            pending = next((s for s in before.values() if s.state == NEXT), None)
            if pending is not None:
                repo.update_state(replace(pending.key, status=ACTIVE, activates_at=int(now)))
                replacement_kid = pending.key.kid
            else:
                self._check_sealer(repo)
                fresh = make_key()
                repo.add(replace(fresh, status=ACTIVE, activates_at=int(now)))
                replacement_kid = fresh.kid
        elif was.state == NEXT:
            signer = next((s for s in before.values() if s.signing), None)
            if signer is not None:  # the rotation is off: the signer stays published
                repo.update_state(replace(signer.key, publish_until=None))
        after = {s.key.kid: s for s in self._settle(repo, now)}
        for state in key_states(repo.list_all(), now):
            after.setdefault(state.key.kid, state)
        revocation = Revocation(
            key=after[kid],
            previous_state=was.state,
            replacement=after.get(replacement_kid) if replacement_kid else None,
        )
        uow.record(
            EventType.SIGNING_KEY_REVOKED,
            {
                "signing_key": {**_event_key(revocation.key), "previous_state": was.state},
                "replacement_signing_key": _event_key(revocation.replacement)
                if revocation.replacement
                else None,
            },
        )
        return revocation

    def _settle(self, repo: KeyRepository, now: float) -> list[KeyState]:
        """Write what the clock made of the keys (``next`` that signs now: ``active``;
        superseded: ``retired`` with its date) and return the usable keys' states."""
        states = key_states(repo.list_usable(), now)
        for state in states:
            key = state.key
            if state.state == ACTIVE and key.status != ACTIVE:
                repo.update_state(replace(key, status=ACTIVE))
            elif state.state in (RETIRED, EXPIRED) and key.status != RETIRED:
                retired_on = isoformat(state.retired_at if state.retired_at is not None else now)
                repo.update_state(replace(key, status=RETIRED, retired_on=retired_on))
        return key_states(repo.list_usable(), now)

    def revoke_token(self, jti: str, client_id: str, expires_at: int) -> bool:
        """Refuse the access token ``jti`` from now on, in every process (RFC 7009).

        One transaction: the revoked id (kept until the token expires), the
        ``token.revoked`` event, and pruning of ids whose tokens have expired. False
        when it already was revoked (nothing recorded).
        """
        now = self._clock.now()
        with self._storage.transaction() as uow:
            repo = uow[KEYS_REPO]
            if repo.is_token_revoked(jti):
                return False
            version = repo.bump_version()
            token = RevokedToken(jti, client_id, expires_at, isoformat(now))
            added = repo.revoke_token(token, version)
            repo.prune_revoked(int(now) - LEEWAY)
            if added:
                uow.record(
                    EventType.TOKEN_REVOKED,
                    {
                        "token": {
                            "jti": jti,
                            "client_id": client_id,
                            "expires_on": isoformat(expires_at),
                        }
                    },
                )
            return added


def _event_key(state: KeyState) -> dict[str, Any]:
    """A key as event data: its kid, state and times (never key material)."""
    key = state.key
    return {
        "kid": key.kid,
        "state": state.state,
        "activates_on": isoformat(state.activates_at) if state.activates_at else None,
        "published_until": isoformat(key.publish_until) if key.publish_until else None,
    }


NO_SIGNING_KEY = (
    "refusing to start: this environment is set up but its database holds no usable "
    "signing key (the signing_keys table has no active key). Kindling does not mint a "
    "replacement on its own, because every token issued so far would silently stop "
    "verifying. Restore the signing_keys table from a backup, or create a new key on "
    "purpose with `kindling keys rotate`"
)
MASTER_KEY_MISMATCH = (
    "refusing to start: the master key is not the one this database was set up with "
    "(its signing keys were sealed under another one). Set KINDLING_MASTER_KEY to the "
    "original value, or restore master.key in the data dir"
)


def _corrupt(kid: str, check: str | None, detail: str) -> str:
    """The startup message for a signing key that cannot be used (see ``reload``)."""
    if check is not None:  # the master key matched the stored check value
        return (
            f"refusing to start: signing key {kid} is corrupt ({detail}); the master key "
            "matches this database, so the stored key itself is damaged. Restore its "
            f"signing_keys row from a backup, or revoke it with `kindling keys revoke {kid}`"
        )
    return (
        f"refusing to start: signing key {kid} cannot be unsealed ({detail}): either "
        "the master key differs from the one that sealed it (set KINDLING_MASTER_KEY or "
        "restore master.key) or the stored key is corrupt"
    )
