"""Compact JWS with RS256 only (RFC 7515, RFC 7518 §3.3), hardened per RFC 8725.

Signing is the hot path of the token endpoint, so the protected header of each
key is serialized once. Verification pins the algorithm: the header's ``alg``
must be exactly ``RS256`` and the key is looked up by ``kid`` among *our* RSA
keys only, so ``alg: none`` and HS256-with-our-public-key tokens cannot pass
(the class of CVE-2022-29217 and CVE-2024-37568). Header members that point at
other keys (``jku``, ``x5u``, ``jwk``, ``x5c``) are never followed, and a
``crit`` header is refused because we understand no extensions.

Explicit typing (RFC 8725 §3.11, §2.8 "cross-JWT confusion"): every token we sign
states its kind in the ``typ`` header, and ``verify`` takes the one ``typ`` the caller
accepts and refuses every other value (and a missing one), compared exactly. Access
tokens are ``JWT``, as Kinde's are; anything else we sign with the same keys (webhook
payloads, any future ID token) uses its own ``typ`` so it can never pass as one.
"""

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kindling.crypto.keys import ALGORITHM, SigningKey, b64url, b64url_decode

_PADDING = padding.PKCS1v15()
_HASH = hashes.SHA256()
_json = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()
MAX_TOKEN_LENGTH = 16_384


class JWSError(Exception):
    """The token is malformed, unsigned by us, or signed with the wrong algorithm."""


#: The ``typ`` of our access tokens (Kinde's M2M tokens carry ``JWT``).
ACCESS_TOKEN_TYP = "JWT"


class Signer:
    """Signs claims with one key as one kind of token; the encoded header is computed once.

    ``typ`` is the JOSE header's token type (RFC 7515 §4.1.9): ``JWT`` for access tokens,
    another value (``webhook+jwt``) for every other kind of token signed with our keys.
    """

    def __init__(self, key: SigningKey, typ: str = ACCESS_TOKEN_TYP) -> None:
        self.kid = key.kid
        self.typ = typ
        self._key = key.private_key
        header = {"alg": ALGORITHM, "kid": key.kid, "typ": typ}
        self._header_dot = b64url(_json.encode(header)).encode("ascii") + b"."

    def sign(self, claims: Mapping[str, Any]) -> str:
        signing_input, signature = self.sign_payload(b64url_bytes(_json.encode(claims)))
        return (signing_input + b"." + signature).decode("ascii")

    def sign_payload(self, *payload: bytes) -> tuple[bytes, bytes]:
        """Sign a payload that is already base64url-encoded, given in pieces (the token
        endpoint builds it from cached ones): the JWS signing input ``header.payload``
        and the base64url signature (RFC 7515 §7.1). The compact JWS is the two joined by
        a dot; the caller joins them where it copies them anyway (into a response body)."""
        signing_input = b"".join((self._header_dot, *payload))
        signature = self._key.sign(signing_input, _PADDING, _HASH)
        return signing_input, b64url_bytes(signature)


def b64url_bytes(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 §2, RFC 4648 §5), as bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = _decode.decode(b64url_decode(segment))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise JWSError(f"the token {what} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise JWSError(f"the token {what} is not a JSON object")
    return value


def verify(
    token: str, key_for: Callable[[str], rsa.RSAPublicKey | None], *, typ: str
) -> dict[str, Any]:
    """Check the type and signature and return the claims; raise JWSError on any doubt.

    ``typ`` is the one header type the caller accepts (RFC 8725 §3.11): a token of any
    other type, or without one, is refused before its key is even looked up.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise JWSError("the token is too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise JWSError("the token is not a compact JWS")
    header = _decode_segment(parts[0], "header")
    if header.get("alg") != ALGORITHM:
        raise JWSError("the token is not signed with RS256")
    if "crit" in header:
        raise JWSError("the token has critical header parameters")
    if header.get("typ") != typ:
        raise JWSError(f"the token is not of type {typ}")
    kid = header.get("kid")
    key = key_for(kid) if isinstance(kid, str) else None
    if key is None:
        raise JWSError("the token is signed with an unknown key")
    try:
        signature = b64url_decode(parts[2])
        key.verify(signature, (parts[0] + "." + parts[1]).encode("ascii"), _PADDING, _HASH)
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError):
        raise JWSError("the token signature is invalid") from None
    return _decode_segment(parts[1], "payload")
