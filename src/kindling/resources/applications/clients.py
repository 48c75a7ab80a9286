"""The token endpoint's view of storage.

Every change to an application, its secrets or its authorizations must be seen
by the very next token request, in every process. Where the engine can say
cheaply whether anything was committed since a read (SQLite's
``PRAGMA data_version``), a loaded client is reused until the database changes;
otherwise (PostgreSQL) every request reads through. Secret expiry is checked at
use time, so a cached record never extends a rotation window.
"""

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
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[Hashable, ClientRecord]] = {}

    def load_client(self, client_id: str, audiences: Sequence[str]) -> ClientRecord | None:
        marker = self._storage.change_marker()
        key = (client_id, tuple(audiences))
        if marker is not None:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == marker:
                return hit[1]
        record = self._read(client_id, audiences)
        if marker is not None and record is not None:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[key] = (marker, record)
        return record

    def _read(self, client_id: str, audiences: Sequence[str]) -> ClientRecord | None:
        with self._storage.read() as uow:
            application = uow[APPLICATIONS_REPO].get(client_id)
            if application is None:
                return None
            return ClientRecord(
                application=application,
                secrets=uow[APPLICATIONS_REPO].secrets(client_id),
                authorizations=application_authorizations(uow, client_id, audiences),
                properties=uow[APPLICATIONS_REPO].property_values(client_id),
            )
