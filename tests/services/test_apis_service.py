"""APIs service on both engines, no HTTP: audiences, scopes and authorizations.

What the token endpoint reads is what these functions wrote: which applications may
get tokens for an audience, and with which scopes.
"""

from __future__ import annotations

import pytest

from kindling.clock import FrozenClock
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.storage import Storage
from kindling.resources.apis import service as apis
from kindling.resources.apis.model import Api
from kindling.resources.apis.repository import APIS_REPO
from tests.services.support import NOW, uid
from tests.storage import factories_access as rows


def granted(storage: Storage, api: Api, application_id: str) -> set[str] | None:
    """The scope keys the application holds for the API (None: not authorized)."""
    with storage.read() as uow:
        found = apis.application_authorizations(uow, application_id, [api.audience])
    return set(found[0].scopes) if found else None


def test_audiences_are_unique_and_must_have_no_spaces(storage: Storage, clock: FrozenClock) -> None:
    audience = f"https://{uid()}.example.com"
    api = apis.create_api(storage, clock, " Orders ", audience)
    assert (api.name, api.audience, api.is_management_api) == ("Orders", audience, False)
    with pytest.raises(AlreadyExists):
        apis.create_api(storage, clock, "Twin", audience)
    with pytest.raises(ValidationError) as raised:
        apis.create_api(storage, clock, "Spaced", "https://a b.example.com")
    assert raised.value.code == "INVALID_AUDIENCE"


def test_the_management_api_has_every_kinde_scope_and_follows_the_issuer(
    storage: Storage,
) -> None:
    first, second = f"https://{uid()}.example.com", f"https://{uid()}.example.com"
    with storage.transaction() as uow:
        api = apis.ensure_management_api(uow, first, NOW)
    with storage.transaction() as uow:
        again = apis.ensure_management_api(uow, second, NOW)
    assert again.id == api.id
    found = apis.get_api(storage, api.id)
    assert found.api.audience == apis.management_audience(second) == f"{second}/api"
    assert {s.key for s in found.scopes} == set(MANAGEMENT_API_SCOPES)
    with pytest.raises(ValidationError):
        apis.delete_api(storage, api.id)
    with pytest.raises(ValidationError) as raised:
        apis.delete_scope(storage, api.id, found.scopes[0].id)
    assert raised.value.code == "SCOPE_NOT_DELETABLE"


def test_authorizing_grants_all_scopes_or_the_named_ones(
    storage: Storage, clock: FrozenClock
) -> None:
    api, _ = rows.add_api(storage, "read:a", "write:a")
    everything, some = rows.add_app(storage), rows.add_app(storage)
    with storage.transaction() as uow:
        _, all_keys = apis.authorize_application(uow, clock, everything.id, api.audience, None)
        _, named = apis.authorize_application(uow, clock, some.id, api.audience, ["write:a"])
    assert (all_keys, named) == (["read:a", "write:a"], ["write:a"])
    assert granted(storage, api, everything.id) == {"read:a", "write:a"}
    assert granted(storage, api, some.id) == {"write:a"}


def test_an_unknown_scope_authorizes_nothing(storage: Storage, clock: FrozenClock) -> None:
    api, _ = rows.add_api(storage, "read:b")
    app = rows.add_app(storage)
    with pytest.raises(ValidationError) as raised, storage.transaction() as uow:
        apis.authorize_application(uow, clock, app.id, api.audience, ["read:b", "nope"])
    assert raised.value.code == "SCOPE_NOT_FOUND"
    assert granted(storage, api, app.id) is None


def test_console_access_leaves_exactly_the_listed_scopes(
    storage: Storage, clock: FrozenClock
) -> None:
    api, _ = rows.add_api(storage, "read:c", "write:c", "admin:c")
    app = rows.add_app(storage)
    with storage.transaction() as uow:
        apis.set_application_access(uow, clock, api.id, app.id, True, ["read:c", "admin:c"])
    assert granted(storage, api, app.id) == {"read:c", "admin:c"}
    with storage.transaction() as uow:
        apis.set_application_access(uow, clock, api.id, app.id, True, ["write:c"])
    assert granted(storage, api, app.id) == {"write:c"}
    with storage.transaction() as uow:
        apis.set_application_access(uow, clock, api.id, app.id, False, [])
    assert granted(storage, api, app.id) is None


def test_bulk_application_changes_are_all_or_nothing(storage: Storage, clock: FrozenClock) -> None:
    api, _ = rows.add_api(storage)
    app = rows.add_app(storage)
    with pytest.raises(NotFound):
        apis.update_api_applications(storage, clock, api.id, [{"id": app.id}, {"id": "nope"}])
    assert apis.get_api(storage, api.id).applications == []
    changes = apis.update_api_applications(storage, clock, api.id, [{"id": app.id}])
    assert (changes.connected, changes.disconnected) == ([app.id], [])
    for body, code in (
        (None, "APPLICATIONS_REQUIRED"),
        ([], "APPLICATIONS_REQUIRED"),
        ([{"id": app.id}] * 101, "TOO_MANY_APPLICATIONS"),
        (["app"], "APPLICATION_ID_REQUIRED"),
        ([{"id": app.id, "operation": "remove"}], "INVALID_OPERATION"),
    ):
        with pytest.raises(ValidationError) as raised:
            apis.update_api_applications(storage, clock, api.id, body)
        assert raised.value.code == code


def test_scope_grants_need_an_authorized_application(storage: Storage, clock: FrozenClock) -> None:
    api, (scope,) = rows.add_api(storage, "read:d")
    app = rows.add_app(storage)
    with pytest.raises(ValidationError) as raised:
        apis.set_application_scope(storage, api.id, app.id, scope.id, granted=True)
    assert raised.value.code == "APPLICATION_NOT_AUTHORIZED"
    apis.update_api_applications(storage, clock, api.id, [{"id": app.id}])
    apis.set_application_scope(storage, api.id, app.id, scope.id, granted=True)
    assert granted(storage, api, app.id) == {"read:d"}
    apis.set_application_scope(storage, api.id, app.id, scope.id, granted=False)
    assert granted(storage, api, app.id) == set()


def test_deleting_an_api_ends_its_authorizations(storage: Storage, clock: FrozenClock) -> None:
    api, _ = rows.add_api(storage, "read:e")
    app = rows.add_app(storage)
    with storage.transaction() as uow:
        apis.authorize_application(uow, clock, app.id, api.audience, None)
    apis.delete_api(storage, api.id)
    assert granted(storage, api, app.id) is None
    with storage.read() as uow:
        assert uow[APIS_REPO].get(api.id) is None
    with pytest.raises(NotFound):
        apis.delete_api(storage, api.id)
