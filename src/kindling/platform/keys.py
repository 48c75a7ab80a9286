"""Signing keys: the stored key record and its repository contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kindling.platform.repository import RepositoryKey


@dataclass(frozen=True)
class StoredKey:
    """A signing key row: the public JWK in clear, the private key sealed."""

    kid: str
    algorithm: str
    public_jwk: dict[str, object]
    sealed_private: bytes
    status: str
    created_on: str
    retired_on: str | None = None


class KeyRepository(Protocol):
    def list_usable(self) -> list[StoredKey]:
        """Return keys whose public half must be published (active and retired), newest first."""

    def add(self, key: StoredKey) -> None:
        """Insert a key."""

    def retire_active(self, now: str) -> None:
        """Mark the active key retired (it stays published to verify live tokens)."""


KEYS_REPO = RepositoryKey[KeyRepository]("keys")
