"""``KeySealer``: a sealed signing key opens to the same key under the same master key
and kid, and anything else is a ``KeyMaterialError`` saying which way it failed."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kindling.crypto.errors import KeyMaterialError
from kindling.crypto.keys import KeySealer, generate_private_key

KEY = bytes(range(32))


def test_a_sealed_key_opens_to_the_same_key() -> None:
    private = generate_private_key()
    opened = KeySealer(KEY).unseal("kid-1", KeySealer(KEY).seal("kid-1", private))
    assert opened.private_numbers() == private.private_numbers()


def test_another_kid_or_master_key_does_not_authenticate() -> None:
    sealed = KeySealer(KEY).seal("kid-1", generate_private_key())
    with pytest.raises(KeyMaterialError, match="fails authentication"):
        KeySealer(KEY).unseal("kid-2", sealed)
    with pytest.raises(KeyMaterialError, match="fails authentication"):
        KeySealer(bytes(32)).unseal("kid-1", sealed)


def test_an_authentic_blob_that_is_no_private_key_is_refused() -> None:
    # Sealed the way ``seal`` seals (nonce, then AES-GCM with the kid as associated data),
    # but what it holds is not a DER private key.
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(KEY).encrypt(nonce, b"\x30\x03\x02\x01\x00", b"kid-1")
    with pytest.raises(KeyMaterialError, match="is not a valid private key"):
        KeySealer(KEY).unseal("kid-1", sealed)
