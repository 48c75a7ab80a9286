"""The token endpoint's view of storage: one read transaction per token request."""

from collections.abc import Sequence

from kindling.oauth.ports import ClientRecord
from kindling.storage import Storage


class StorageClientStore:
    """Implements ``oauth.ports.ClientStore`` over the storage interface.

    Nothing is cached: a change to an application, its secrets or its
    authorizations is seen by the very next token request in every process.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def load_client(self, client_id: str, audiences: Sequence[str]) -> ClientRecord | None:
        with self._storage.read() as uow:
            application = uow.applications.get(client_id)
            if application is None:
                return None
            return ClientRecord(
                application=application,
                secrets=uow.applications.secrets(client_id),
                authorizations=uow.apis.authorizations(client_id, audiences),
            )
