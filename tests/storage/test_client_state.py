"""``client_state``: the counter the token endpoint's client cache trusts, on both engines.

Every change to a table a client record is read from moves it, in the change's own
transaction (``v0023_client_state``'s triggers); the audit log's and the outbox's writes,
which the token endpoint's batched audit rows make every 50 ms under load, do not.
"""

from __future__ import annotations

from collections.abc import Callable

from kindling.platform import audit
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage, UnitOfWork
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.applications.repository import APPLICATIONS_REPO
from tests.storage.conftest import Boom, uid
from tests.storage.factories_access import add_api, add_app, make_secret
from tests.storage.factories_identity import add_property, seed

T0 = 1_700_000_000_000


def version(storage: Storage) -> int:
    with storage.read() as uow:
        return uow[APPLICATIONS_REPO].client_state()


def moves(storage: Storage, change: Callable[[UnitOfWork], object]) -> bool:
    before = version(storage)
    with storage.transaction() as uow:
        change(uow)
    return version(storage) > before


def sql_moves(storage: Storage, sql: str, params: tuple[object, ...]) -> bool:
    """The same for a statement no repository under test makes (another resource's)."""
    before = version(storage)
    seed(storage, sql, params)
    return version(storage) > before


def test_every_change_a_client_is_read_from_moves_the_counter(storage: Storage) -> None:
    app = add_app(storage)
    api, scopes = add_api(storage, f"read:{uid()}", f"write:{uid()}")
    prop = add_property(storage, context="app")
    apps, apis = APPLICATIONS_REPO, APIS_REPO
    assert moves(storage, lambda u: u[apps].update(app))
    assert moves(storage, lambda u: u[apps].add_secret(make_secret(app.id)))
    assert moves(storage, lambda u: u[apps].expire_secrets(app.id, 1, "none"))
    assert moves(storage, lambda u: u[apis].authorize(api.id, app.id, "2024-01-01T00:00:00Z"))
    assert moves(storage, lambda u: u[apis].grant_scopes(api.id, app.id, [scopes[0].id]))
    assert moves(storage, lambda u: u[apis].revoke_scope(api.id, app.id, scopes[0].id))
    assert moves(storage, lambda u: u[apis].update_scope(scopes[1].id, "changed"))
    assert moves(storage, lambda u: u[apis].set_audience(api.id, f"https://{uid()}.example"))
    assert sql_moves(
        storage,
        "INSERT INTO application_property_values (application_id, property_id, value) "
        "VALUES (?, ?, ?)",
        (app.id, prop, "v"),
    )
    assert sql_moves(storage, "UPDATE properties SET name = ? WHERE id = ?", ("n", prop))
    assert sql_moves(storage, "DELETE FROM properties WHERE id = ?", (prop,))
    assert moves(storage, lambda u: u[apis].deauthorize(api.id, app.id))
    assert moves(storage, lambda u: u[apis].delete(api.id))
    assert moves(storage, lambda u: u[apps].delete(app.id))


def test_audit_rows_and_events_leave_the_counter_alone(storage: Storage) -> None:
    before = version(storage)
    writer = audit.AuditWriter(storage, lambda: T0, interval=60.0)
    try:
        for jti in ("j1", "j2", "j3"):
            writer.enqueue(audit.token_issued(T0, "app", ["https://a"], ["r"], jti, None, None))
        writer.refusal(audit.token_refused(T0, "x", [], "invalid_client", "192.0.2.1", None))
        writer.flush()
        writer.record(audit.token_refused(T0, "y", [], "invalid_client", None, None))
    finally:
        writer.close()
    with storage.transaction() as uow:
        uow.record(EventType.USER_CREATED, {"user": {"id": f"kp_{uid()}"}})
    assert version(storage) == before


def test_a_rolled_back_change_does_not_move_it(storage: Storage) -> None:
    app = add_app(storage)
    before = version(storage)
    try:
        with storage.transaction() as uow:
            uow[APPLICATIONS_REPO].add_secret(make_secret(app.id))
            raise Boom()
    except Boom:
        pass
    assert version(storage) == before
