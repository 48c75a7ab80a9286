"""Sealed values: short secrets kept at rest with AES-256-GCM, as signing keys are.

The framing is the one ``keys.KeySealer`` uses for private keys: a fresh random
96-bit nonce (NIST SP 800-38D §8.2.2) followed by the GCM ciphertext and tag, and a
label bound as associated data, so a sealed blob copied onto another row (another
label) fails to open. The key is a sub-key the caller derives from the master key for
one purpose (``MasterKey.derive``), so values sealed here can never be opened with the
key that seals signing keys, and the other way round.

A ``ValueSealer`` never shows its key or a value in its ``repr``.
"""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kindling.crypto.errors import KeyMaterialError

_NONCE = 12


class ValueSealer:
    """Seals and opens UTF-8 text values with AES-256-GCM under one derived key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "<ValueSealer>"

    def seal(self, label: str, value: str) -> bytes:
        """``nonce || ciphertext+tag`` of ``value``, bound to ``label`` (e.g. the row id)."""
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, value.encode("utf-8"), label.encode("utf-8"))

    def unseal(self, label: str, sealed: bytes) -> str:
        """The value sealed under ``label``.

        A blob sealed under another label or another master key, or altered in any
        way, fails authentication: that is a ``KeyMaterialError``, never a wrong value.
        """
        try:
            plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], label.encode("utf-8"))
        except (InvalidTag, ValueError):
            raise KeyMaterialError(
                f"the sealed value of {label} cannot be opened: it was sealed for another "
                "row or under another master key (set KINDLING_MASTER_KEY or restore "
                "master.key)"
            ) from None
        return plain.decode("utf-8")
