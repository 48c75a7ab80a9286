"""The token endpoint's view of storage.

Every change to an application, its secrets or its authorizations must be seen
by the very next token request, in every process. Where the engine can say
cheaply whether anything was committed since a read (SQLite's
``PRAGMA data_version``), a loaded client is reused until a change to what it was
read from; otherwise (PostgreSQL) every request reads through. Secret expiry is
checked at use time, so a cached record never extends a rotation window.

"Anything was committed" is not "the client changed": the audit writer commits a
batch every 50 ms under load, and each commit moves the engine's marker. So a moved
marker only makes this store read one number, ``client_state.version``, which
triggers move in the transaction of every change to the tables a client is read from
(``platform/schema/v0023_client_state.py``); the cached records are dropped only when
that number moved. Each record is stored with the number read in the same snapshot as
the record itself, so a change committed while it was read is never taken for seen.
"""

import threading
from collections.abc import Hashable, Sequence

from kindling.oauth.ports import ClientRecord
from kindling.platform.storage import Storage
from kindling.resources.apis.service import application_authorizations
from kindling.resources.applications.repository import APPLICATIONS_REPO

MAX_CACHED = 10_000


class StorageClientStore:
    """Implements ``oauth.ports.ClientStore`` over the storage interface."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[int, ClientRecord]] = {}
        #: Per thread (the marker is per connection): the last marker seen and the
        #: ``client_state`` version read under it.
        self._local = threading.local()

    def load_client(self, client_id: str, audiences: Sequence[str]) -> ClientRecord | None:
        marker = self._storage.change_marker()
        if marker is None:
            return self._read(client_id, audiences, versioned=False)[1]
        version = self._version(marker)
        key = (client_id, tuple(audiences))
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        read_at, record = self._read(client_id, audiences, versioned=True)
        if record is not None:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[key] = (read_at, record)
        return record

    def _version(self, marker: Hashable) -> int:
        """``client_state.version`` as of ``marker``: read only when the marker moved."""
        local = self._local
        if getattr(local, "marker", None) == marker:
            version: int = local.version
            return version
        with self._storage.read() as uow:
            version = uow[APPLICATIONS_REPO].client_state()
        local.marker, local.version = marker, version
        return version

    def _read(
        self, client_id: str, audiences: Sequence[str], versioned: bool
    ) -> tuple[int, ClientRecord | None]:
        """The record and the ``client_state`` version of its snapshot (0 unless
        ``versioned``: reading through needs no version)."""
        with self._storage.read() as uow:
            repo = uow[APPLICATIONS_REPO]
            # First: the record is at least as fresh as this number.
            version = repo.client_state() if versioned else 0
            application = repo.get(client_id)
            if application is None:
                return version, None
            return version, ClientRecord(
                application=application,
                secrets=repo.secrets(client_id),
                authorizations=application_authorizations(uow, client_id, audiences),
                properties=repo.property_values(client_id),
            )
