"""RSA signing keys: generation, sealing at rest, and their public JWK (RFC 7517).

Private keys are serialized as PKCS#8 DER and sealed with AES-256-GCM under a
key derived from the master key; the key id is bound as associated data so a
sealed blob cannot be swapped onto another key's row. Kinde signs with RSA-2048
and RS256 only, and so do we.
"""

import base64
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kindling.crypto.errors import KeyMaterialError

ALGORITHM = "RS256"
KEY_SIZE = 2048
_NONCE = 12


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_to_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def public_jwk(kid: str, public_key: rsa.RSAPublicKey) -> dict[str, object]:
    """The public half as a JWK, in the shape Kinde's JWKS serves."""
    numbers = public_key.public_numbers()
    return {
        "alg": ALGORITHM,
        "e": _int_to_b64(numbers.e),
        "key_ops": ["verify"],
        "kid": kid,
        "kty": "RSA",
        "n": _int_to_b64(numbers.n),
        "use": "sig",
    }


class KeySealer:
    """Seals and unseals private keys with AES-256-GCM."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "<KeySealer>"

    def seal(self, kid: str, private_key: rsa.RSAPrivateKey) -> bytes:
        der = private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, der, kid.encode("ascii"))

    def unseal(self, kid: str, sealed: bytes) -> rsa.RSAPrivateKey:
        try:
            der = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], kid.encode("ascii"))
        except InvalidTag:
            raise KeyMaterialError(
                f"signing key {kid} cannot be unsealed: the master key differs from the one "
                "that sealed it (set KINDLING_MASTER_KEY or restore master.key)"
            ) from None
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != KEY_SIZE:
            raise KeyMaterialError(f"signing key {kid} is not an RSA-{KEY_SIZE} key")
        return key


@dataclass(frozen=True)
class SigningKey:
    """An unsealed key ready to sign, with its kid and public JWK."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def jwk(self) -> dict[str, object]:
        return public_jwk(self.kid, self.private_key.public_key())
