"""Storage contract: ``OrganizationRepository`` (rows, settings, logos, connections, flag
overrides) on both engines."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import connection_id, feature_flag_id, invite_code, organization_code
from kindling.platform.storage import Storage
from kindling.resources.organizations.invites.model import Invite
from kindling.resources.organizations.invites.repository import INVITES_REPO
from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO
from kindling.resources.organizations.model import (
    Organization,
    OrganizationLogo,
    OrganizationSettings,
)
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from kindling.resources.users.accounts.repository import ACCOUNTS_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_identity import (
    add_connection,
    add_flag,
    add_mfa_factor,
    add_org,
    add_property,
    add_role,
    add_session,
    add_user,
    count,
    make_connection,
    make_org,
    seed,
)

SETTINGS = OrganizationSettings(
    background_color="#fff",
    button_color_dark="hsl(1, 2%, 3%)",
    theme_code="dark",
    is_auto_membership_enabled=True,
    allowed_domains=("example.com", "example.org"),
    is_enforce_mfa=True,
    sender_email="noreply@example.com",
    mfa_enabled_factors=("mfa:email", "mfa:authenticator_app"),
    mfa_recovery_codes_enabled=False,
    authenticated_session_lifetime=3600,
)


def _logo(code: str, type_: str, content_type: str = "image/png") -> OrganizationLogo:
    return OrganizationLogo(org_code=code, type=type_, content_type=content_type, created_on=NOW)


def _flag_overrides(storage: Storage, code: str) -> dict[str, str]:
    with storage.engine.session(write=False) as session:
        rows = session.all(
            "SELECT flag_id, value FROM organization_feature_flags WHERE org_code = ?", (code,)
        )
    return {row["flag_id"]: row["value"] for row in rows}


# --- the organization row ---------------------------------------------------------


def test_get_and_exists_for_a_missing_organization(storage: Storage) -> None:
    code = organization_code()
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].get(code) is None
        assert uow[ORGANIZATIONS_REPO].exists(code) is False
        assert uow[ORGANIZATIONS_REPO].handle_owner(f"h{uid()}") is None


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    org = make_org(
        handle=f"h{uid()}",
        external_id=f"ext-{uid()}",
        is_default=True,
        is_suspended=True,
        settings=SETTINGS,
    )
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add(org)
    with storage.read() as uow:
        got = uow[ORGANIZATIONS_REPO].get(org.code)
        assert uow[ORGANIZATIONS_REPO].exists(org.code) is True
        assert uow[ORGANIZATIONS_REPO].handle_owner(org.handle or "") == org.code
    assert got == org
    assert got is not None and got.settings.allowed_domains == ("example.com", "example.org")
    assert isinstance(got.is_default, bool) and isinstance(got.is_suspended, bool)


def test_add_refuses_a_taken_code_or_handle(storage: Storage) -> None:
    org = add_org(storage, handle=f"h{uid()}")
    same_code = make_org(code=org.code)
    same_handle = make_org(handle=org.handle)
    for clash in (same_code, same_handle):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[ORGANIZATIONS_REPO].add(clash)
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].get(org.code) == org
        assert uow[ORGANIZATIONS_REPO].get(same_handle.code) is None
        assert uow[ORGANIZATIONS_REPO].handle_owner(org.handle or "") == org.code


def test_organizations_without_a_handle_do_not_collide(storage: Storage) -> None:
    a, b = add_org(storage), add_org(storage)
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].exists(a.code) and uow[ORGANIZATIONS_REPO].exists(b.code)


def test_update_overwrites_the_documented_fields(storage: Storage) -> None:
    org = add_org(storage, handle=f"h{uid()}")
    changed = replace(
        org,
        name="Renamed",
        handle=f"n{uid()}",
        external_id="ext-9",
        is_suspended=True,
        settings=SETTINGS,
        is_default=True,  # not among the overwritten fields
        created_on=LATER,  # nor this
    )
    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].update(changed) is True
    with storage.read() as uow:
        got = uow[ORGANIZATIONS_REPO].get(org.code)
        assert uow[ORGANIZATIONS_REPO].handle_owner(org.handle or "") is None
        assert uow[ORGANIZATIONS_REPO].handle_owner(changed.handle or "") == org.code
    assert got == replace(changed, is_default=False, created_on=NOW)
    # Clearing the handle and settings.
    with storage.transaction() as uow:
        cleared = replace(org, handle=None, settings=OrganizationSettings())
        assert uow[ORGANIZATIONS_REPO].update(cleared) is True
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].get(org.code) == cleared


def test_update_of_a_missing_organization_returns_false(storage: Storage) -> None:
    ghost = make_org()
    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].update(ghost) is False
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].get(ghost.code) is None


def test_update_refuses_a_handle_of_another_organization(storage: Storage) -> None:
    holder = add_org(storage, handle=f"h{uid()}")
    org = add_org(storage, handle=f"o{uid()}")
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].update(replace(org, name="x", handle=holder.handle))
    with storage.transaction() as uow:  # keeping its own handle is fine
        assert uow[ORGANIZATIONS_REPO].update(replace(org, name="kept")) is True
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].get(org.code) == replace(org, name="kept")
        assert uow[ORGANIZATIONS_REPO].handle_owner(holder.handle or "") == holder.code


def test_delete_cascades_to_everything_hanging_off_it(storage: Storage) -> None:
    org, keep = add_org(storage, handle=f"h{uid()}"), add_org(storage)
    user = add_user(storage)
    role = add_role(storage)
    connection = add_connection(storage)
    flag = add_flag(storage)
    prop = add_property(storage, context="org")
    invite = Invite(code=invite_code(), org_code=org.code, email="a@example.com", created_on=NOW)
    with storage.transaction() as uow:
        orgs = uow[ORGANIZATIONS_REPO]
        for code in (org.code, keep.code):
            orgs.set_logo(_logo(code, "light"), b"\x89PNG")
            orgs.enable_connection(code, connection.id)
            orgs.set_feature_flag_values(code, [(flag, "true")])
            uow[MEMBERSHIPS_REPO].add_member(code, user.id, NOW)
            uow[MEMBERSHIPS_REPO].add_member_role(code, user.id, role.id, NOW)
        uow[INVITES_REPO].add(invite)
    seed(
        storage,
        "INSERT INTO organization_property_values (org_code, property_id, value) VALUES (?, ?, ?)",
        (org.code, prop, "v"),
    )

    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].delete(org.code) is True
    with storage.read() as uow:
        orgs = uow[ORGANIZATIONS_REPO]
        assert orgs.get(org.code) is None and orgs.exists(org.code) is False
        assert orgs.handle_owner(org.handle or "") is None
        assert orgs.logos(org.code) == [] and orgs.logo_data(org.code, "light") is None
        assert orgs.connections(org.code) == []
        assert orgs.get_connection(connection.id) == connection  # the connection itself stays
        assert uow[MEMBERSHIPS_REPO].is_member(org.code, user.id) is False
        assert uow[MEMBERSHIPS_REPO].member_roles(org.code, user.id) == []
        assert uow[INVITES_REPO].get(org.code, invite.code) is None
        # The other organization keeps all of its own.
        assert [logo.type for logo in orgs.logos(keep.code)] == ["light"]
        assert orgs.connections(keep.code) == [connection]
        assert uow[MEMBERSHIPS_REPO].is_member(keep.code, user.id) is True
    assert _flag_overrides(storage, org.code) == {}
    assert _flag_overrides(storage, keep.code) == {flag: "true"}
    assert 0 == count(
        storage,
        "SELECT COUNT(*) AS n FROM organization_property_values WHERE org_code = ?",
        [org.code],
    )
    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].delete(org.code) is False


def test_delete_removes_the_members_organization_mfa_factors(storage: Storage) -> None:
    """Organization MFA factors belong to the membership (``remove_member`` deletes them),
    so deleting the organization must not leave them behind."""
    org, keep = add_org(storage), add_org(storage)
    user = add_user(storage)
    with storage.transaction() as uow:
        uow[MEMBERSHIPS_REPO].add_member(org.code, user.id, NOW)
        uow[MEMBERSHIPS_REPO].add_member(keep.code, user.id, NOW)
    add_mfa_factor(storage, user.id, org_code=org.code)
    kept = add_mfa_factor(storage, user.id, org_code=keep.code)
    environment = add_mfa_factor(storage, user.id)
    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].delete(org.code) is True
    with storage.read() as uow:
        assert [f.id for f in uow[MEMBERSHIPS_REPO].mfa_factors(keep.code, user.id)] == [kept]
        assert [f.id for f in uow[ACCOUNTS_REPO].mfa_factors(user.id)] == [environment]
        assert uow[MEMBERSHIPS_REPO].mfa_factors(org.code, user.id) == []
    assert 0 == count(
        storage, "SELECT COUNT(*) AS n FROM user_mfa_factors WHERE org_code = ?", [org.code]
    )


def test_delete_removes_the_sessions_signed_in_to_it(storage: Storage) -> None:
    """A session's ``org_code`` is the organization it was authenticated for; it cannot
    outlive that organization. Sessions of other organizations and environment-level
    sessions (no organization) stay."""
    org, keep = add_org(storage), add_org(storage)
    user, other = add_user(storage), add_user(storage)
    add_session(storage, user.id, org_code=org.code)
    add_session(storage, other.id, org_code=org.code)
    kept = add_session(storage, user.id, org_code=keep.code)
    environment = add_session(storage, user.id)
    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].delete(org.code) is True
    with storage.read() as uow:
        assert [s.id for s in uow[ACCOUNTS_REPO].sessions(user.id, 10)] == [kept, environment]
        assert uow[ACCOUNTS_REPO].sessions(other.id, 10) == []
    assert 0 == count(
        storage, "SELECT COUNT(*) AS n FROM user_sessions WHERE org_code = ?", [org.code]
    )


def test_rolled_back_delete_keeps_the_factors_and_sessions(storage: Storage) -> None:
    org = add_org(storage)
    user = add_user(storage)
    with storage.transaction() as uow:
        uow[MEMBERSHIPS_REPO].add_member(org.code, user.id, NOW)
    factor = add_mfa_factor(storage, user.id, org_code=org.code)
    session = add_session(storage, user.id, org_code=org.code)
    with pytest.raises(Boom), storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].delete(org.code) is True
        raise Boom
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].exists(org.code) is True
        assert [f.id for f in uow[MEMBERSHIPS_REPO].mfa_factors(org.code, user.id)] == [factor]
        assert [s.id for s in uow[ACCOUNTS_REPO].sessions(user.id, 10)] == [session]


def test_delete_missing_organization_returns_false(storage: Storage) -> None:
    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].delete(organization_code()) is False


# --- listings ---------------------------------------------------------------------


def test_list_page_oldest_first_with_keyset(storage: Storage) -> None:
    orgs = [add_org(storage) for _ in range(5)]
    codes = [o.code for o in orgs]
    with storage.read() as uow:
        everything = uow[ORGANIZATIONS_REPO].list_page(None, 1_000_000)
    mine = [(s, o) for s, o in everything if o.code in codes]
    assert [o for _, o in mine] == orgs
    seqs = [s for s, _ in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Paging from just before the first of ours, two at a time.
    paged: list[Organization] = []
    after: int | None = mine[0][0] - 1
    while True:
        with storage.read() as uow:
            page = uow[ORGANIZATIONS_REPO].list_page(after, 2)
        assert len(page) <= 2
        paged.extend(o for _, o in page)
        if len(page) < 2 or page[-1][1].code == codes[-1]:
            break
        after = page[-1][0]
    assert paged[0] == orgs[0]
    assert [o for o in paged if o.code in codes] == orgs
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].list_page(mine[-1][0], 1_000_000) == [
            row for row in everything if row[0] > mine[-1][0]
        ]


def test_list_by_name_orders_by_name_then_sequence(storage: Storage) -> None:
    tag = uid()
    names = [f"n{tag}c", f"n{tag}a", f"n{tag}b", f"n{tag}a"]
    orgs = [add_org(storage, name=name) for name in names]
    ascending = [orgs[1], orgs[3], orgs[2], orgs[0]]  # ties keep creation order
    start = (f"n{tag}", 0)
    with storage.read() as uow:
        rows = uow[ORGANIZATIONS_REPO].list_by_name(start, 4, False)
        assert [o for _, o in rows] == ascending
        positions = [p for p, _ in rows]
        assert [p[0] for p in positions] == [o.name for o in ascending]
        # Keyset pages of two.
        first = uow[ORGANIZATIONS_REPO].list_by_name(start, 2, False)
        second = uow[ORGANIZATIONS_REPO].list_by_name(first[-1][0], 2, False)
        assert [o for _, o in first + second] == ascending
        # Descending, from just past the last of ours.
        down = uow[ORGANIZATIONS_REPO].list_by_name((f"n{tag}z", 0), 4, True)
        assert [o for _, o in down] == ascending[::-1]
        down_first = uow[ORGANIZATIONS_REPO].list_by_name((f"n{tag}z", 0), 3, True)
        down_rest = uow[ORGANIZATIONS_REPO].list_by_name(down_first[-1][0], 1, True)
        assert [o for _, o in down_first + down_rest] == ascending[::-1]
        # Without ``after``: the whole table, in (name, seq) order.
        everything = uow[ORGANIZATIONS_REPO].list_by_name(None, 1_000_000, False)
        backwards = uow[ORGANIZATIONS_REPO].list_by_name(None, 1_000_000, True)
    positions = [p for p, _ in everything]
    # Equal sort keys keep sequence order (the collation decides the rest).
    assert all(a[1] < b[1] for a, b in pairwise(positions) if a[0] == b[0])
    assert [o for _, o in everything if o.name.startswith(f"n{tag}")] == ascending
    assert backwards == everything[::-1]


# --- logos ------------------------------------------------------------------------


def test_logos_are_listed_light_before_dark(storage: Storage) -> None:
    org = add_org(storage)
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].logos(org.code) == []
        assert uow[ORGANIZATIONS_REPO].logos(organization_code()) == []
        assert uow[ORGANIZATIONS_REPO].logo_data(org.code, "light") is None
    dark, light = _logo(org.code, "dark", "image/svg+xml"), _logo(org.code, "light")
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].set_logo(dark, b"<svg/>")
        uow[ORGANIZATIONS_REPO].set_logo(light, b"\x89PNG\x00\xff")
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].logos(org.code) == [light, dark]
        assert uow[ORGANIZATIONS_REPO].logo_data(org.code, "light") == b"\x89PNG\x00\xff"
        assert uow[ORGANIZATIONS_REPO].logo_data(org.code, "dark") == b"<svg/>"


def test_set_logo_replaces_the_logo_of_that_type(storage: Storage) -> None:
    org = add_org(storage)
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].set_logo(_logo(org.code, "light"), b"old")
    newer = replace(_logo(org.code, "light", "image/jpeg"), created_on=LATER)
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].set_logo(newer, b"new")
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].logos(org.code) == [newer]
        assert uow[ORGANIZATIONS_REPO].logo_data(org.code, "light") == b"new"


def test_set_logo_needs_the_organization(storage: Storage) -> None:
    code = organization_code()
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].set_logo(_logo(code, "light"), b"x")
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].logos(code) == []


def test_delete_logo(storage: Storage) -> None:
    org = add_org(storage)
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].set_logo(_logo(org.code, "light"), b"l")
        uow[ORGANIZATIONS_REPO].set_logo(_logo(org.code, "dark"), b"d")
    with storage.transaction() as uow:
        assert uow[ORGANIZATIONS_REPO].delete_logo(org.code, "light") is True
        assert uow[ORGANIZATIONS_REPO].delete_logo(org.code, "light") is False
        assert uow[ORGANIZATIONS_REPO].delete_logo(organization_code(), "dark") is False
    with storage.read() as uow:
        assert [logo.type for logo in uow[ORGANIZATIONS_REPO].logos(org.code)] == ["dark"]
        assert uow[ORGANIZATIONS_REPO].logo_data(org.code, "light") is None


# --- connections --------------------------------------------------------------------


def test_add_and_get_connection(storage: Storage) -> None:
    connection = make_connection(display_name="Google")
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add_connection(connection)
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].get_connection(connection.id) == connection
        assert uow[ORGANIZATIONS_REPO].get_connection(connection_id()) is None
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add_connection(make_connection(id=connection.id))
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].get_connection(connection.id) == connection


def test_enable_and_disable_connections(storage: Storage) -> None:
    org, other = add_org(storage), add_org(storage)
    older, newer = add_connection(storage), add_connection(storage)
    with storage.transaction() as uow:
        orgs = uow[ORGANIZATIONS_REPO]
        assert orgs.enable_connection(org.code, newer.id) is True
        assert orgs.enable_connection(org.code, older.id) is True
        assert orgs.enable_connection(org.code, older.id) is False
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].connections(org.code) == [older, newer]
        assert uow[ORGANIZATIONS_REPO].connections(other.code) == []
        assert uow[ORGANIZATIONS_REPO].connections(organization_code()) == []
    with storage.transaction() as uow:
        orgs = uow[ORGANIZATIONS_REPO]
        assert orgs.disable_connection(org.code, older.id) is True
        assert orgs.disable_connection(org.code, older.id) is False
        assert orgs.disable_connection(other.code, newer.id) is False
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].connections(org.code) == [newer]


def test_enable_connection_needs_both_rows(storage: Storage) -> None:
    org, connection = add_org(storage), add_connection(storage)
    for code, conn in ((organization_code(), connection.id), (org.code, connection_id())):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[ORGANIZATIONS_REPO].enable_connection(code, conn)
    with storage.read() as uow:
        assert uow[ORGANIZATIONS_REPO].connections(org.code) == []


# --- feature flag overrides -----------------------------------------------------------


def test_feature_flags_by_key(storage: Storage) -> None:
    tag = uid()
    on = add_flag(
        storage, f"on{tag}", type="bool", default_value="true", allow_override_level="org"
    )
    text = add_flag(
        storage, f"text{tag}", type="str", default_value="hi", allow_override_level=None
    )
    with storage.read() as uow:
        found = uow[ORGANIZATIONS_REPO].feature_flags_by_key([f"on{tag}", f"text{tag}", "nope"])
        assert uow[ORGANIZATIONS_REPO].feature_flags_by_key([]) == {}
    assert set(found) == {f"on{tag}", f"text{tag}"}
    assert (found[f"on{tag}"].id, found[f"on{tag}"].type, found[f"on{tag}"].default_value) == (
        on,
        "bool",
        "true",
    )
    assert found[f"on{tag}"].allow_override_level == "org"
    assert (found[f"text{tag}"].id, found[f"text{tag}"].key) == (text, f"text{tag}")
    assert found[f"text{tag}"].allow_override_level is None


def test_set_feature_flag_values_inserts_and_refuses_duplicates(storage: Storage) -> None:
    org = add_org(storage)
    a, b = add_flag(storage), add_flag(storage)
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].set_feature_flag_values(org.code, [(a, "true"), (b, "false")])
        uow[ORGANIZATIONS_REPO].set_feature_flag_values(org.code, [])
    assert _flag_overrides(storage, org.code) == {a: "true", b: "false"}
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].set_feature_flag_values(org.code, [(a, "false")])
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].set_feature_flag_values(org.code, [(feature_flag_id(), "x")])
    assert _flag_overrides(storage, org.code) == {a: "true", b: "false"}


# --- transactions -----------------------------------------------------------------


def test_rollback_leaves_no_organization_logo_or_connection(storage: Storage) -> None:
    org = make_org(handle=f"h{uid()}")
    connection = make_connection()
    with pytest.raises(Boom), storage.transaction() as uow:
        orgs = uow[ORGANIZATIONS_REPO]
        orgs.add(org)
        orgs.add_connection(connection)
        orgs.set_logo(_logo(org.code, "light"), b"x")
        assert orgs.enable_connection(org.code, connection.id) is True
        assert orgs.exists(org.code) is True
        raise Boom
    with storage.read() as uow:
        orgs = uow[ORGANIZATIONS_REPO]
        assert orgs.get(org.code) is None
        assert orgs.handle_owner(org.handle or "") is None
        assert orgs.get_connection(connection.id) is None
        assert orgs.logos(org.code) == []
    # Nothing was taken: the same code and handle can be used now.
    with storage.transaction() as uow:
        uow[ORGANIZATIONS_REPO].add(org)
