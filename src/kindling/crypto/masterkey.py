"""The master key: the one secret from which every at-rest protection is derived.

Several instances that share a database must share the master key. It comes from
``KINDLING_MASTER_KEY`` (any string of at least 32 characters) or, on a laptop,
from ``<data dir>/master.key``, which the server creates with mode 0600.
Sub-keys are derived with HKDF-SHA256 (RFC 5869), one per purpose, so a key used
to seal signing keys is never also used to hash client secrets.
"""

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kindling.crypto.errors import KeyMaterialError

MIN_LENGTH = 32
FILE_NAME = "master.key"


class MasterKey:
    """Holds the master secret; its ``repr`` never shows it."""

    def __init__(self, value: str) -> None:
        if len(value) < MIN_LENGTH:
            raise KeyMaterialError(f"the master key must be at least {MIN_LENGTH} characters long")
        self._value = value.encode("utf-8")

    def __repr__(self) -> str:
        return "<MasterKey: hidden>"

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """Derive a sub-key for one purpose (HKDF-SHA256, RFC 5869)."""
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=length,
            salt=b"kindling-master-key-v1",
            info=purpose.encode("ascii"),
        )
        return hkdf.derive(self._value)


def load_or_create(data_dir: Path, env_value: str | None) -> MasterKey:
    """Return the master key from the environment, else from the data dir (creating it).

    The file is created atomically with mode 0600; an existing file with looser
    permissions is refused rather than silently used.
    """
    if env_value:
        return MasterKey(env_value)
    path = data_dir / FILE_NAME
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise KeyMaterialError(
                f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
            )
        return MasterKey(path.read_text(encoding="ascii").strip())
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return MasterKey(value)
