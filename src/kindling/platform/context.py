"""What a request handler or CLI command is given: the process's long-lived parts.

The composition root (``kindling.context.build_context``) builds one ``Context``
per process; nothing else opens storage, loads keys or reads the master key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kindling.clock import Clock
from kindling.config import Settings
from kindling.crypto import masterkey
from kindling.crypto.client_secrets import SecretHasher
from kindling.oauth.ports import ClaimsHook
from kindling.platform.pagination import CursorCodec
from kindling.platform.signing import Keyring
from kindling.platform.storage import Storage


@dataclass
class Context:
    """Everything a request handler or CLI command needs, built once per process."""

    settings: Settings
    storage: Storage
    clock: Clock
    hasher: SecretHasher
    keyring: Keyring
    cursors: CursorCodec
    master: masterkey.MasterKey
    #: Reads the issuer recorded in storage (None before first run).
    recorded_issuer: Callable[[Storage], str | None]
    claims_hook: ClaimsHook | None = None

    def issuer(self) -> str:
        """The issuer recorded in storage (kept equal to the settings by ``serve``)."""
        return self.recorded_issuer(self.storage) or self.settings.public_issuer()

    def close(self) -> None:
        self.storage.close()
