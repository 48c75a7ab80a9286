"""The keys that protect connected-app secrets at rest, all derived from the master key.

* ``secrets`` seals providers' client secrets (``connected-app-secret-seal``);
* ``tokens`` seals the access and refresh tokens providers issue, and PKCE verifiers
  (``connected-app-token-seal``);
* ``hasher`` turns a ``session_id`` or a ``state`` into the keyed hash we look it up by
  (``connected-app-session-pepper``), as API keys and client secrets are stored.

Each purpose has its own HKDF sub-key (RFC 5869), as ``kindling.crypto.masterkey``
requires. Sealing is ``kindling.crypto.sealing.ValueSealer``: AES-256-GCM with a random
96-bit nonce, ``nonce || ciphertext+tag``, with the row and field a value belongs to
bound as associated data, so a sealed blob copied onto another row or field does not
open. That is byte for byte the framing this module used before (its own ``KeySealer``
subclass), under the same sub-keys, so values sealed then still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from kindling.crypto.client_secrets import SecretHasher
from kindling.crypto.errors import KeyMaterialError
from kindling.crypto.masterkey import MasterKey
from kindling.crypto.sealing import ValueSealer
from kindling.platform.errors import ConfigurationError


@dataclass(frozen=True)
class ConnectedAppKeys:
    secrets: ValueSealer
    tokens: ValueSealer
    hasher: SecretHasher


def unseal(sealer: ValueSealer, label: str, sealed: bytes) -> str:
    """The value sealed under ``label``; a blob that does not open (another master key,
    another row, altered) is the platform's ``ConfigurationError`` (a 500 naming the fix),
    never a wrong value."""
    try:
        return sealer.unseal(label, sealed)
    except KeyMaterialError as exc:
        raise ConfigurationError(str(exc)) from None


@lru_cache(maxsize=8)
def keys_for(master: MasterKey) -> ConnectedAppKeys:
    """The connected-app keys of this master key (derived once per process)."""
    return ConnectedAppKeys(
        secrets=ValueSealer(master.derive("connected-app-secret-seal")),
        tokens=ValueSealer(master.derive("connected-app-token-seal")),
        hasher=SecretHasher(master.derive("connected-app-session-pepper")),
    )
