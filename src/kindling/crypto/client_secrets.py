"""Client secrets: generation, keyed hashing and constant-time verification.

Secrets are generated server-side with 290+ bits of entropy, so a slow password
hash buys nothing (see the design notes on secret storage): we store
``hmac-sha256$v1$<hex>``, an HMAC keyed with a pepper derived from the master
key. A leaked database therefore does not let anyone test secret guesses offline
without the master key. The algorithm prefix leaves room to change the scheme.
"""

import hashlib
import hmac
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 50
_SCHEME = "hmac-sha256$v1$"


def generate_client_secret() -> str:
    """Return a new random secret of 50 alphanumeric characters (Kinde's shape)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))


class SecretHasher:
    """Hashes and verifies client secrets with a server-side pepper."""

    def __init__(self, pepper: bytes) -> None:
        self._pepper = pepper

    def __repr__(self) -> str:
        return "<SecretHasher>"

    def hash(self, secret: str) -> str:
        digest = hmac.new(self._pepper, secret.encode("utf-8"), hashlib.sha256).hexdigest()
        return _SCHEME + digest

    def verify(self, secret: str, stored: str) -> bool:
        """Compare in constant time; an unknown scheme never verifies."""
        if not stored.startswith(_SCHEME):
            return False
        return hmac.compare_digest(self.hash(secret), stored)
