"""Applications service on both engines, no HTTP: secrets, settings, URLs, deletion.

The secret is shown once and stored only as its keyed hash; rotation keeps the old
secrets working for the grace window only; PATCH keeps what it is not sent.
"""

from __future__ import annotations

import pytest

from kindling.platform.context import Context
from kindling.platform.errors import NotFound, ValidationError
from kindling.resources.applications import service as applications
from kindling.resources.applications.repository import APPLICATIONS_REPO
from kindling.resources.applications.service import CreatedApplication
from tests.services.support import uid


def new_app(context: Context, type_: str = "m2m") -> CreatedApplication:
    return applications.create_application(
        context.storage, context.hasher, context.clock, f"App {uid()}", type_
    )


def test_the_secret_is_stored_only_as_its_keyed_hash(context: Context) -> None:
    created = new_app(context)
    app = created.application
    assert app.client_id == app.id and len(app.id) == 32
    with context.storage.read() as uow:
        (stored,) = uow[APPLICATIONS_REPO].secrets(app.id)
    assert stored.secret_hash == context.hasher.hash(created.client_secret)
    assert created.client_secret not in stored.secret_hash
    assert stored.expires_at is None


def test_rotation_keeps_old_secrets_for_the_grace_window_only(context: Context) -> None:
    app = new_app(context).application
    now = int(context.clock.now())
    secret, expires_at = applications.rotate_secret(
        context.storage, context.hasher, context.clock, app.id, 120
    )
    assert expires_at == now + 120
    with context.storage.read() as uow:
        found = {s.secret_hash: s.expires_at for s in uow[APPLICATIONS_REPO].secrets(app.id)}
    assert found.pop(context.hasher.hash(secret)) is None
    assert list(found.values()) == [now + 120]
    # A second rotation with no grace ends every earlier secret now, never later.
    latest, ended = applications.rotate_secret(
        context.storage, context.hasher, context.clock, app.id, 0
    )
    with context.storage.read() as uow:
        after = {s.secret_hash: s.expires_at for s in uow[APPLICATIONS_REPO].secrets(app.id)}
    assert after.pop(context.hasher.hash(latest)) is None
    assert set(after.values()) == {ended} == {now}


@pytest.mark.parametrize("grace", [-1, applications.MAX_GRACE + 1, True])
def test_rotation_refuses_a_grace_outside_the_window(context: Context, grace: int) -> None:
    app = new_app(context).application
    with pytest.raises(ValidationError) as raised:
        applications.rotate_secret(context.storage, context.hasher, context.clock, app.id, grace)
    assert raised.value.code == "INVALID_GRACE_SECONDS"


def test_patch_keeps_absent_fields_and_changes_sent_ones(context: Context) -> None:
    storage = context.storage
    app = new_app(context).application
    applications.update_application(
        storage,
        app.id,
        {"name": "First", "has_cancel_button": True, "redirect_uris": ["https://a.example/cb"]},
    )
    applications.update_application(storage, app.id, {"is_ask_for_name": False, "name": None})
    found = applications.get_application(storage, app.id)
    assert found.name == "First"
    assert found.settings["has_cancel_button"] is True
    assert found.settings["is_ask_for_name"] is False
    assert applications.get_urls(storage, app.id, "redirect") == ["https://a.example/cb"]


def test_token_lifetimes_are_bounded_and_stored(context: Context) -> None:
    storage = context.storage
    app = new_app(context).application
    applications.update_tokens(
        storage, app.id, {"access_token_lifetime": 3600, "refresh_token_lifetime": 7200}
    )
    found = applications.get_application(storage, app.id)
    assert found.access_token_lifetime == 3600
    assert found.settings["refresh_token_lifetime"] == 7200
    for value in (applications.LIFETIME_MIN - 1, applications.LIFETIME_MAX + 1, "3600", True):
        with pytest.raises(ValidationError):
            applications.update_tokens(storage, app.id, {"access_token_lifetime": value})
    assert applications.get_application(storage, app.id).access_token_lifetime == 3600


def test_callback_urls_add_replace_and_remove(context: Context) -> None:
    storage = context.storage
    app = new_app(context).application
    a, b, c = "https://a.example/cb", "https://b.example/cb", "https://c.example/cb"
    applications.change_urls(storage, app.id, "redirect", [a, b], "add")
    applications.change_urls(storage, app.id, "redirect", [b, c], "add")
    assert applications.get_urls(storage, app.id, "redirect") == [a, b, c]
    applications.change_urls(storage, app.id, "redirect", [b], "remove")
    assert applications.get_urls(storage, app.id, "redirect") == [a, c]
    with pytest.raises(NotFound):
        applications.change_urls(storage, app.id, "redirect", [a, b], "remove")
    assert applications.get_urls(storage, app.id, "redirect") == [a, c]
    applications.change_urls(storage, app.id, "redirect", [c], "replace")
    assert applications.get_urls(storage, app.id, "redirect") == [c]
    assert applications.get_urls(storage, app.id, "logout") == []


def test_validate_urls_dedupes_and_refuses_relative_ones() -> None:
    assert applications.validate_urls([" https://x.example/a ", "https://x.example/a"]) == [
        "https://x.example/a"
    ]
    for bad in (["/relative"], ["no scheme"], "https://x.example", [1]):
        with pytest.raises(ValidationError):
            applications.validate_urls(bad)


def test_deleting_an_application_removes_it_and_its_secrets(context: Context) -> None:
    storage = context.storage
    app = new_app(context).application
    applications.delete_application(storage, app.id)
    with pytest.raises(NotFound):
        applications.get_application(storage, app.id)
    with storage.read() as uow:
        assert uow[APPLICATIONS_REPO].secrets(app.id) == []
