"""RSA signing keys: generation, sealing at rest, and their public JWK (RFC 7517).

Private keys are serialized as PKCS#8 DER and sealed with AES-256-GCM under a
key derived from the master key; the key id is bound as associated data so a
sealed blob cannot be swapped onto another key's row. Kinde signs with RSA-2048
and RS256 only, and so do we.

AES-GCM cannot tell a corrupt blob from a wrong key: both fail authentication. So the
sealer also has a *check value*, an HMAC-SHA256 of a fixed label under the sealing
key, which storage keeps beside the keys: when it matches, the master key is the one
that sealed them and a blob that fails is corrupt; when it differs, the master key is
wrong. The check value reveals no more about the key than any sealed blob does.
"""

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
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


def public_key_from_jwk(jwk: Mapping[str, object]) -> rsa.RSAPublicKey:
    """The RSA public key of a stored JWK (RFC 7518 §6.3.1: ``n`` and ``e``, base64url).

    Verification needs only this half, so a key that only verifies (a retired key) is
    never unsealed. A JWK that is not an RSA-2048 public key raises KeyMaterialError.
    """
    n, e = jwk.get("n"), jwk.get("e")
    if jwk.get("kty") != "RSA" or not isinstance(n, str) or not isinstance(e, str):
        raise KeyMaterialError(f"the public key {jwk.get('kid')} is not an RSA JWK")
    try:
        numbers = rsa.RSAPublicNumbers(
            int.from_bytes(b64url_decode(e), "big"), int.from_bytes(b64url_decode(n), "big")
        )
        key = numbers.public_key()
    except (binascii.Error, ValueError):
        raise KeyMaterialError(f"the public key {jwk.get('kid')} is not a valid RSA key") from None
    if key.key_size != KEY_SIZE:
        raise KeyMaterialError(f"the public key {jwk.get('kid')} is not an RSA-{KEY_SIZE} key")
    return key


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


_CHECK_LABEL = b"kindling signing-key seal check v1"


class KeySealer:
    """Seals and unseals private keys with AES-256-GCM."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._check = hmac.new(key, _CHECK_LABEL, hashlib.sha256).hexdigest()

    def check_value(self) -> str:
        """What storage keeps to tell a wrong master key from a corrupt blob (see above)."""
        return self._check

    def matches(self, stored_check: str) -> bool:
        """True when ``stored_check`` was made by this sealer's key (constant time)."""
        return hmac.compare_digest(self._check, stored_check)

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
        """The private key sealed for ``kid``; KeyMaterialError if the blob does not open.

        The message states only that it does not authenticate: whether the master key or
        the blob is at fault is for the caller to say, from the check value.
        """
        try:
            der = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], kid.encode("ascii"))
        except (InvalidTag, ValueError):
            raise KeyMaterialError(
                f"signing key {kid} cannot be unsealed: its sealed private key fails authentication"
            ) from None
        try:
            # OpenSSL's RSA consistency check (primality of p and q, ...) costs ~39 ms of
            # CPU per RSA-2048 key here, twice per ``kindling serve`` start (bootstrap, then
            # the worker's keyring), about a tenth of the start-up's CPU. It is skipped: the
            # DER just passed AES-GCM authentication under the master key, so it is what
            # ``seal`` was given: a key the keyring generated (and cryptography checked).
            # A blob that is not a private key at all still fails here, as before.
            key = serialization.load_der_private_key(
                der, password=None, unsafe_skip_rsa_key_validation=True
            )
        except ValueError:
            raise KeyMaterialError(f"signing key {kid} is not a valid private key") from None
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
