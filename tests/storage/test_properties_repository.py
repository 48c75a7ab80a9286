"""PropertyRepository contract: categories, definitions, keyset pages and subject values."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import organization_code, property_category_id, user_id
from kindling.platform.storage import Storage
from kindling.resources.properties.model import Property, PropertyCategory
from kindling.resources.properties.repository import PROPERTIES_REPO
from tests.storage.conftest import Boom, uid
from tests.storage.factories_access import (
    add_app,
    add_org,
    add_user,
    make_category,
    make_property,
)


def add_categories(storage: Storage, *contexts: str) -> list[PropertyCategory]:
    categories = [make_category(context) for context in contexts]
    with storage.transaction() as uow:
        for category in categories:
            uow[PROPERTIES_REPO].add_category(category)
    return categories


def add_properties(storage: Storage, *props: Property) -> list[Property]:
    with storage.transaction() as uow:
        for prop in props:
            uow[PROPERTIES_REPO].add(prop)
    return list(props)


# --- categories -------------------------------------------------------------------


def test_category_round_trip_and_missing(storage: Storage) -> None:
    (category,) = add_categories(storage, "org")
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get_category(category.id) == category
        assert uow[PROPERTIES_REPO].get_category(property_category_id()) is None
        assert uow[PROPERTIES_REPO].category_position(property_category_id()) is None
        position = uow[PROPERTIES_REPO].category_position(category.id)
    assert isinstance(position, int)


def test_category_positions_follow_insertion(storage: Storage) -> None:
    first, second = add_categories(storage, "usr", "usr")
    with storage.read() as uow:
        one = uow[PROPERTIES_REPO].category_position(first.id)
        two = uow[PROPERTIES_REPO].category_position(second.id)
    assert one is not None and two is not None and one < two


def test_add_category_with_taken_id_is_refused(storage: Storage) -> None:
    (category,) = add_categories(storage, "usr")
    clone = replace(category, name="other", context="org")
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[PROPERTIES_REPO].add_category(clone)
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get_category(category.id) == category


def test_rename_category(storage: Storage) -> None:
    (category,) = add_categories(storage, "app")
    new_name = f"renamed-{uid()}"
    with storage.transaction() as uow:
        assert uow[PROPERTIES_REPO].rename_category(category.id, new_name) is True
        assert uow[PROPERTIES_REPO].rename_category(property_category_id(), "x") is False
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get_category(category.id) == replace(category, name=new_name)


def test_list_categories_keyset_after_and_before(storage: Storage) -> None:
    cats = add_categories(storage, "usr", "usr", "usr", "usr", "usr")
    with storage.read() as uow:
        repo = uow[PROPERTIES_REPO]
        pos = [repo.category_position(c.id) for c in cats]
        assert all(p is not None for p in pos)
        p0, _, _, _, p4 = pos
        # ``after``: the first ones after the position, ascending.
        assert repo.list_categories("usr", p0, None, 2) == cats[1:3]
        # ``before``: the last ones before the position, still ascending.
        assert repo.list_categories("usr", None, p4, 2) == cats[2:4]
        # Both bounds: the rows strictly between them.
        assert repo.list_categories("usr", p0, p4, 10) == cats[1:4]
        assert repo.list_categories(None, p0, p4, 10) == cats[1:4]
        assert repo.list_categories("usr", p0, p4, 0) == []
        # From the start: ascending, the requested number.
        # From the start: the oldest ones, ascending.
        first_page = repo.list_categories(None, None, None, 3)
        first_positions = [repo.category_position(c.id) or 0 for c in first_page]
    assert len(first_page) == 3
    assert first_positions == sorted(first_positions)
    assert len(set(first_positions)) == 3 and 0 not in first_positions


def test_list_categories_filters_by_context(storage: Storage) -> None:
    usr_a, org_b, usr_c, app_d, usr_e = add_categories(storage, "usr", "org", "usr", "app", "usr")
    with storage.read() as uow:
        repo = uow[PROPERTIES_REPO]
        start = repo.category_position(usr_a.id)
        end = repo.category_position(usr_e.id)
        assert repo.list_categories("usr", start, None, 2) == [usr_c, usr_e]
        assert repo.list_categories("org", start, end, 10) == [org_b]
        assert repo.list_categories("app", start, end, 10) == [app_d]
        assert repo.list_categories(None, start, end, 10) == [org_b, usr_c, app_d]
        assert repo.list_categories("usr", None, end, 1) == [usr_c]


def test_rolled_back_category_leaves_nothing(storage: Storage) -> None:
    category = make_category("usr")
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[PROPERTIES_REPO].add_category(category)
        assert uow[PROPERTIES_REPO].get_category(category.id) == category
        raise Boom
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get_category(category.id) is None
        assert uow[PROPERTIES_REPO].category_position(category.id) is None


# --- property definitions ------------------------------------------------------------


def test_property_round_trip_by_id_and_key(storage: Storage) -> None:
    (category,) = add_categories(storage, "usr")
    prop = make_property("usr", category_id=category.id, is_private=True)
    add_properties(storage, prop)
    with storage.read() as uow:
        repo = uow[PROPERTIES_REPO]
        got = repo.get(prop.id)
        assert got == prop
        assert got is not None and got.is_private is True and got.is_kinde_property is False
        assert repo.get_by_key(prop.key) == prop
        assert repo.get_by_key(prop.key.upper()) is None
        assert repo.get("prop_missing") is None
        assert repo.get_by_key(f"missing_{uid()}") is None
        assert repo.position("prop_missing") is None
        assert isinstance(repo.position(prop.id), int)


def test_kinde_property_flag_round_trips(storage: Storage) -> None:
    prop = replace(make_property("org"), is_kinde_property=True, description=None)
    add_properties(storage, prop)
    with storage.read() as uow:
        got = uow[PROPERTIES_REPO].get(prop.id)
    assert got == prop
    assert got is not None and got.is_kinde_property is True and got.description is None


def test_by_keys_leaves_out_missing_keys(storage: Storage) -> None:
    one, two = add_properties(storage, make_property("usr"), make_property("org"))
    missing = f"missing_{uid()}"
    with storage.read() as uow:
        repo = uow[PROPERTIES_REPO]
        assert repo.by_keys([one.key, missing, two.key]) == {one.key: one, two.key: two}
        assert repo.by_keys([missing]) == {}
        assert repo.by_keys([]) == {}


def test_add_property_with_taken_id_or_key_is_refused(storage: Storage) -> None:
    (prop,) = add_properties(storage, make_property("usr"))
    same_key = make_property("org", key=prop.key)
    same_id = replace(make_property("usr"), id=prop.id)
    for clash in (same_key, same_id):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[PROPERTIES_REPO].add(clash)
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get(prop.id) == prop
        assert uow[PROPERTIES_REPO].get(same_key.id) is None
        assert uow[PROPERTIES_REPO].get_by_key(same_id.key) is None


def test_add_property_with_unknown_category_is_refused(storage: Storage) -> None:
    prop = make_property("usr", category_id=property_category_id())
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[PROPERTIES_REPO].add(prop)
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get(prop.id) is None


def test_update_overwrites_definition_but_not_key_type_or_context(storage: Storage) -> None:
    (category,) = add_categories(storage, "usr")
    (prop,) = add_properties(storage, make_property("usr"))
    changed = replace(
        prop,
        name="New name",
        description="new description",
        is_private=True,
        category_id=category.id,
        key=f"ignored_{uid()}",
        type="multi_line_text",
        context="org",
    )
    with storage.transaction() as uow:
        assert uow[PROPERTIES_REPO].update(changed) is True
    with storage.read() as uow:
        got = uow[PROPERTIES_REPO].get(prop.id)
    assert got == replace(
        prop,
        name="New name",
        description="new description",
        is_private=True,
        category_id=category.id,
    )
    # Clearing the category and description.
    with storage.transaction() as uow:
        assert uow[PROPERTIES_REPO].update(replace(prop, description=None)) is True
    with storage.read() as uow:
        got = uow[PROPERTIES_REPO].get(prop.id)
    assert got is not None and got.category_id is None and got.description is None


def test_update_missing_property_returns_false(storage: Storage) -> None:
    ghost = make_property("usr")
    with storage.transaction() as uow:
        assert uow[PROPERTIES_REPO].update(ghost) is False
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get(ghost.id) is None


def test_update_with_unknown_category_is_refused(storage: Storage) -> None:
    (prop,) = add_properties(storage, make_property("usr"))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[PROPERTIES_REPO].update(replace(prop, category_id=property_category_id()))
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get(prop.id) == prop


def test_delete_property_removes_its_values(storage: Storage) -> None:
    user = add_user(storage)
    keep, gone = add_properties(storage, make_property("usr"), make_property("usr"))
    with storage.transaction() as uow:
        uow[PROPERTIES_REPO].set_values("usr", user.id, [(keep.id, "k"), (gone.id, "g")])
    with storage.transaction() as uow:
        assert uow[PROPERTIES_REPO].delete(gone.id) is True
        assert uow[PROPERTIES_REPO].delete(gone.id) is False
    with storage.read() as uow:
        assert uow[PROPERTIES_REPO].get(gone.id) is None
        assert uow[PROPERTIES_REPO].get_by_key(gone.key) is None
        assert uow[PROPERTIES_REPO].position(gone.id) is None
        values = {v.property.id: v.value for v in uow[PROPERTIES_REPO].values("usr", user.id)}
    assert values[keep.id] == "k" and gone.id not in values
    # A property re-created under the same id starts without the old value.
    add_properties(storage, gone)
    with storage.read() as uow:
        values = {v.property.id: v.value for v in uow[PROPERTIES_REPO].values("usr", user.id)}
    assert values[gone.id] is None and values[keep.id] == "k"


def test_list_page_keyset_and_context(storage: Storage) -> None:
    props = add_properties(
        storage,
        make_property("usr"),
        make_property("org"),
        make_property("usr"),
        make_property("usr"),
        make_property("app"),
        make_property("usr"),
    )
    u0, o1, u2, u3, a4, u5 = props
    with storage.read() as uow:
        repo = uow[PROPERTIES_REPO]
        start, end = repo.position(u0.id), repo.position(u5.id)
        assert start is not None and end is not None and start < end
        assert repo.list_page(None, start, None, 3) == [o1, u2, u3]
        assert repo.list_page("usr", start, None, 2) == [u2, u3]
        assert repo.list_page("usr", None, end, 2) == [u2, u3]
        assert repo.list_page("usr", start, end, 10) == [u2, u3]
        assert repo.list_page(None, start, end, 10) == [o1, u2, u3, a4]
        assert repo.list_page("app", start, end, 10) == [a4]
        assert repo.list_page("org", None, end, 1) == [o1]
        assert repo.list_page(None, None, end, 1) == [a4]
        everything = repo.list_page(None, None, None, 1_000_000)
    ids = [p.id for p in everything]
    assert ids.index(u0.id) < ids.index(o1.id) < ids.index(u5.id)


# --- values --------------------------------------------------------------------------


def test_subject_exists_for_each_context(storage: Storage) -> None:
    user, org, app = add_user(storage), add_org(storage), add_app(storage)
    with storage.read() as uow:
        repo = uow[PROPERTIES_REPO]
        assert repo.subject_exists("usr", user.id) is True
        assert repo.subject_exists("org", org.code) is True
        assert repo.subject_exists("app", app.id) is True
        assert repo.subject_exists("usr", user_id()) is False
        assert repo.subject_exists("org", organization_code()) is False
        assert repo.subject_exists("app", f"{uid()}") is False
        # The context decides the table: a user id is no organization code.
        assert repo.subject_exists("org", user.id) is False
        assert repo.subject_exists("usr", app.id) is False


def test_values_list_every_property_of_the_context_in_order(storage: Storage) -> None:
    user = add_user(storage)
    first, other_context, second, third = add_properties(
        storage,
        make_property("usr"),
        make_property("org"),
        make_property("usr"),
        make_property("usr"),
    )
    with storage.transaction() as uow:
        uow[PROPERTIES_REPO].set_values("usr", user.id, [(third.id, "3"), (first.id, "1")])
    with storage.read() as uow:
        values = uow[PROPERTIES_REPO].values("usr", user.id)
        ghost = uow[PROPERTIES_REPO].values("usr", user_id())
    mine = [
        (v.property, v.value) for v in values if v.property.id in {first.id, second.id, third.id}
    ]
    assert mine == [(first, "1"), (second, None), (third, "3")]
    assert all(v.property.context == "usr" for v in values)
    assert other_context.id not in {v.property.id for v in values}
    # The subject is not checked: an unknown user gets every property, unset.
    ghost_mine = [(v.property.id, v.value) for v in ghost if v.property.id in {first.id, third.id}]
    assert ghost_mine == [(first.id, None), (third.id, None)]


def test_set_values_replaces_and_removes(storage: Storage) -> None:
    org = add_org(storage)
    other = add_org(storage)
    one, two = add_properties(storage, make_property("org"), make_property("org"))
    with storage.transaction() as uow:
        uow[PROPERTIES_REPO].set_values("org", org.code, [(one.id, "a"), (two.id, "b")])
        uow[PROPERTIES_REPO].set_values("org", other.code, [(one.id, "other")])
    with storage.transaction() as uow:
        uow[PROPERTIES_REPO].set_values("org", org.code, [(one.id, "a2"), (two.id, None)])
    with storage.read() as uow:
        got = {v.property.id: v.value for v in uow[PROPERTIES_REPO].values("org", org.code)}
        theirs = {v.property.id: v.value for v in uow[PROPERTIES_REPO].values("org", other.code)}
    assert (got[one.id], got[two.id]) == ("a2", None)
    assert (theirs[one.id], theirs[two.id]) == ("other", None)
    # Removing a value that is not set is a no-op; an empty list changes nothing.
    with storage.transaction() as uow:
        uow[PROPERTIES_REPO].set_values("org", org.code, [(two.id, None)])
        uow[PROPERTIES_REPO].set_values("org", org.code, [])
    with storage.read() as uow:
        got = {v.property.id: v.value for v in uow[PROPERTIES_REPO].values("org", org.code)}
    assert (got[one.id], got[two.id]) == ("a2", None)


def test_set_values_for_applications(storage: Storage) -> None:
    app = add_app(storage)
    (prop,) = add_properties(storage, make_property("app"))
    with storage.transaction() as uow:
        uow[PROPERTIES_REPO].set_values("app", app.id, [(prop.id, "v")])
    with storage.read() as uow:
        got = {v.property.id: v.value for v in uow[PROPERTIES_REPO].values("app", app.id)}
    assert got[prop.id] == "v"


def test_set_values_needs_subject_and_property(storage: Storage) -> None:
    user = add_user(storage)
    (prop,) = add_properties(storage, make_property("usr"))
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[PROPERTIES_REPO].set_values("usr", user_id(), [(prop.id, "x")])
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        # The first pair is valid: the failing second one rolls it back too.
        uow[PROPERTIES_REPO].set_values("usr", user.id, [(prop.id, "x"), ("prop_missing", "y")])
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[PROPERTIES_REPO].set_values("org", organization_code(), [(prop.id, "x")])
    with storage.read() as uow:
        got = {v.property.id: v.value for v in uow[PROPERTIES_REPO].values("usr", user.id)}
    assert got[prop.id] is None
