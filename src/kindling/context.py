"""Composition root: the only place that opens storage, loads keys and reads the master key.

It binds the resource registry (``kindling.resources``) to the platform: the
repositories every unit of work offers, and the issuer recorded in storage.
"""

import importlib
from pathlib import Path

from kindling.clock import Clock, SystemClock, isoformat
from kindling.config import Settings
from kindling.crypto import masterkey
from kindling.crypto.client_secrets import SecretHasher
from kindling.crypto.errors import KeyMaterialError
from kindling.crypto.keys import KeySealer
from kindling.oauth.ports import ClaimsHook
from kindling.platform.context import Context
from kindling.platform.engine import EngineLimits, limits_from
from kindling.platform.errors import ConfigurationError
from kindling.platform.pagination import CursorCodec
from kindling.platform.registry import Registry
from kindling.platform.signing import Keyring
from kindling.platform.storage import Storage
from kindling.platform.storage import open_storage as open_engine
from kindling.resources import REGISTERED
from kindling.resources.environment.service import recorded_issuer

#: Every registered resource (loaded on first use).
REGISTRY = Registry("kindling.resources", REGISTERED)


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
    """Open ``settings``' data dir and database for one process: ``serve``'s workers, a CLI
    command, a test. Every wait on the database is bounded by the settings
    (``KINDLING_DB_*``, ``KINDLING_SQLITE_BUSY_TIMEOUT``: ``engine.limits_from``), whoever
    calls, so a CLI command against a database that does not answer fails as promptly as
    a request does."""
    clock = clock or SystemClock()
    claims_hook = load_claims_hook(settings.claims_hook)
    try:
        master = masterkey.load_or_create(settings.data_dir, settings.master_key)
    except KeyMaterialError as exc:
        raise ConfigurationError(str(exc)) from None
    storage = open_storage(
        settings.database_url,
        settings.data_dir,
        isoformat(clock.now()),
        clock,
        limits_from(settings),
        migrate=settings.migrate,
    )
    keyring = Keyring(storage, KeySealer(master.derive("signing-key-seal")), clock)
    return Context(
        settings=settings,
        storage=storage,
        clock=clock,
        hasher=SecretHasher(master.derive("client-secret-pepper")),
        keyring=keyring,
        cursors=CursorCodec(master.derive("pagination-cursor")),
        master=master,
        recorded_issuer=recorded_issuer,
        claims_hook=claims_hook,
    )


def open_storage(
    database_url: str | None,
    data_dir: Path,
    now: str,
    clock: Clock | None = None,
    limits: EngineLimits | None = None,
    migrate: bool = True,
) -> Storage:
    """Open the configured engine with every registered repository; migrate it (at ``now``).

    ``limits`` bound every wait on the database (``engine.current_limits()`` when None).
    ``migrate`` False (``KINDLING_MIGRATE=off``) checks the schema instead: one that is not
    current raises ``SchemaNotCurrent``.
    """
    clock = clock or SystemClock()
    return open_engine(
        database_url,
        data_dir,
        now,
        lambda: isoformat(clock.now()),
        REGISTRY.repositories(),
        REGISTRY.reactions(),
        limits,
        migrate,
    )
