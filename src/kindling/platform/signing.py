"""The signing keyring: the active key that signs and every key that still verifies.

Keys live in storage, private halves sealed. Each process keeps the unsealed
keys in memory and reloads them when a token names a ``kid`` it does not know
(another instance rotated), at most once every few seconds.
"""

import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kindling.clock import Clock, isoformat
from kindling.crypto.errors import KeyMaterialError
from kindling.crypto.jws import Signer
from kindling.crypto.keys import ALGORITHM, KeySealer, SigningKey, generate_private_key, public_jwk
from kindling.platform.errors import ConfigurationError
from kindling.platform.ids import key_id
from kindling.platform.keys import KEYS_REPO, StoredKey
from kindling.platform.storage import Storage

RELOAD_INTERVAL = 5.0


class Keyring:
    """Thread-safe view of the signing keys of one environment."""

    def __init__(self, storage: Storage, sealer: KeySealer, clock: Clock) -> None:
        self._storage = storage
        self._sealer = sealer
        self._clock = clock
        self._lock = threading.Lock()
        self._signer: Signer | None = None
        self._public: dict[str, rsa.RSAPublicKey] = {}
        self._jwks: list[dict[str, Any]] = []
        self._loaded_at = 0.0

    def ensure_active(self) -> bool:
        """Create the first signing key if there is none; return True if one was made."""
        with self._storage.transaction() as uow:
            if any(k.status == "active" for k in uow[KEYS_REPO].list_usable()):
                created = False
            else:
                uow[KEYS_REPO].add(self._new_key())
                created = True
        self.reload()
        return created

    def rotate(self) -> str:
        """Retire the active key (still published) and start signing with a new one."""
        with self._storage.transaction() as uow:
            uow[KEYS_REPO].retire_active(isoformat(self._clock.now()))
            key = self._new_key()
            uow[KEYS_REPO].add(key)
        self.reload()
        return key.kid

    def _new_key(self) -> StoredKey:
        kid = key_id()
        private = generate_private_key()
        return StoredKey(
            kid=kid,
            algorithm=ALGORITHM,
            public_jwk=public_jwk(kid, private.public_key()),
            sealed_private=self._sealer.seal(kid, private),
            status="active",
            created_on=isoformat(self._clock.now()),
        )

    def reload(self) -> None:
        with self._storage.read() as uow:
            stored = uow[KEYS_REPO].list_usable()
        signer: Signer | None = None
        public: dict[str, rsa.RSAPublicKey] = {}
        for key in stored:
            try:
                private = self._sealer.unseal(key.kid, key.sealed_private)
            except KeyMaterialError as exc:
                raise ConfigurationError(str(exc)) from None
            public[key.kid] = private.public_key()
            if key.status == "active" and signer is None:
                signer = Signer(SigningKey(key.kid, private))
        if signer is None:
            raise ConfigurationError("there is no active signing key")
        with self._lock:
            self._signer = signer
            self._public = public
            self._jwks = [dict(k.public_jwk) for k in stored]
            self._loaded_at = self._clock.now()

    def signer(self) -> Signer:
        signer = self._signer
        if signer is None:
            raise ConfigurationError("the keyring is not loaded")
        return signer

    def public_keys(self) -> dict[str, rsa.RSAPublicKey]:
        return self._public

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The verification key for ``kid``, reloading once if unknown (rate-limited)."""
        key = self._public.get(kid)
        if key is None and self._clock.now() - self._loaded_at >= RELOAD_INTERVAL:
            self.reload()
            key = self._public.get(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": self._jwks}
