"""Composition root: the only place that opens storage, loads keys and reads the master key."""

import importlib
from dataclasses import dataclass

from kindling.clock import Clock, SystemClock, isoformat
from kindling.config import Settings
from kindling.crypto import masterkey
from kindling.crypto.client_secrets import SecretHasher
from kindling.crypto.keys import KeySealer
from kindling.errors import ConfigurationError
from kindling.oauth.ports import ClaimsHook
from kindling.services.keyring import Keyring
from kindling.services.pagination import CursorCodec
from kindling.storage import Storage, open_storage


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
    claims_hook: ClaimsHook | None = None

    def issuer(self) -> str:
        """The issuer recorded in storage (kept equal to the settings by ``serve``)."""
        with self.storage.read() as uow:
            issuer = uow.environment.get_issuer()
        return issuer or self.settings.public_issuer()

    def close(self) -> None:
        self.storage.close()


def load_claims_hook(spec: str | None) -> ClaimsHook | None:
    """Import ``package.module:function``; refuse to start if it cannot be loaded."""
    if not spec:
        return None
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(
            "KINDLING_TOKEN_CLAIMS_HOOK must look like package.module:function"
        )
    try:
        target: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load the claims hook {spec}: {exc}") from None
    if not callable(target):
        raise ConfigurationError(f"the claims hook {spec} is not callable")
    return target


def build_context(settings: Settings, clock: Clock | None = None) -> Context:
    clock = clock or SystemClock()
    claims_hook = load_claims_hook(settings.claims_hook)
    master = masterkey.load_or_create(settings.data_dir, settings.master_key)
    storage = open_storage(settings.database_url, settings.data_dir, isoformat(clock.now()))
    keyring = Keyring(storage, KeySealer(master.derive("signing-key-seal")), clock)
    return Context(
        settings=settings,
        storage=storage,
        clock=clock,
        hasher=SecretHasher(master.derive("client-secret-pepper")),
        keyring=keyring,
        cursors=CursorCodec(master.derive("pagination-cursor")),
        master=master,
        claims_hook=claims_hook,
    )
