"""Storage contract: ``InviteRepository`` (organization invitations) on both engines."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kindling.platform.engine import IntegrityViolation
from kindling.platform.ids import invite_code, organization_code
from kindling.platform.storage import Storage
from kindling.resources.organizations.invites.model import Invite
from kindling.resources.organizations.invites.repository import INVITES_REPO
from tests.storage.conftest import LATER, NOW, Boom, uid
from tests.storage.factories_identity import add_org, add_role


def _invite(org_code: str, **fields: object) -> Invite:
    values: dict[str, object] = {
        "code": invite_code(),
        "org_code": org_code,
        "email": f"inv-{uid()}@example.com",
        "created_on": NOW,
        **fields,
    }
    return Invite(**values)  # type: ignore[arg-type]


def _add(storage: Storage, *invites: Invite) -> None:
    with storage.transaction() as uow:
        for invite in invites:
            uow[INVITES_REPO].add(invite)


def _page(
    storage: Storage,
    org_code: str,
    sort: str = "created_on",
    descending: bool = False,
    after: tuple[str, int] | None = None,
    limit: int = 100,
    include_revoked: bool = True,
    include_accepted: bool = True,
) -> list[tuple[tuple[str, int], Invite]]:
    with storage.read() as uow:
        return uow[INVITES_REPO].list_page(
            org_code, sort, descending, after, limit, include_revoked, include_accepted
        )


def _codes(rows: list[tuple[tuple[str, int], Invite]]) -> list[str]:
    return [i.code for _, i in rows]


def test_organization_exists(storage: Storage) -> None:
    org = add_org(storage)
    with storage.read() as uow:
        assert uow[INVITES_REPO].organization_exists(org.code) is True
        assert uow[INVITES_REPO].organization_exists(organization_code()) is False


def test_role_names_for_known_keys_only(storage: Storage) -> None:
    admin, viewer = add_role(storage, name="Admin"), add_role(storage, name="Viewer")
    with storage.read() as uow:
        invites = uow[INVITES_REPO]
        assert invites.role_names([admin.key, f"missing{uid()}", viewer.key, admin.key]) == {
            admin.key: "Admin",
            viewer.key: "Viewer",
        }
        assert invites.role_names([]) == {}
        assert invites.role_names([admin.key.upper()]) == {}
        # Many keys at once (more than one query's worth).
        many = [f"k{i}-{uid()}" for i in range(1200)]
        many[3], many[1100] = admin.key, viewer.key
        assert invites.role_names(many) == {admin.key: "Admin", viewer.key: "Viewer"}


def test_add_then_get_round_trips_every_field(storage: Storage) -> None:
    org = add_org(storage)
    invite = _invite(
        org.code,
        first_name="Ada",
        last_name="Lovelace",
        role_keys=("admin", "viewer"),
        is_sent=True,
        is_revoked=True,
        accepted_on=LATER,
    )
    plain = _invite(org.code)
    _add(storage, invite, plain)
    with storage.read() as uow:
        assert uow[INVITES_REPO].get(org.code, invite.code) == invite
        assert uow[INVITES_REPO].get(org.code, plain.code) == plain
        got = uow[INVITES_REPO].get(org.code, plain.code)
    assert got is not None and got.role_keys == () and got.is_revoked is False


def test_get_is_scoped_to_the_organization(storage: Storage) -> None:
    org, other = add_org(storage), add_org(storage)
    invite = _invite(org.code)
    _add(storage, invite)
    with storage.read() as uow:
        assert uow[INVITES_REPO].get(other.code, invite.code) is None
        assert uow[INVITES_REPO].get(org.code, invite_code()) is None
        assert uow[INVITES_REPO].get(organization_code(), invite.code) is None


def test_add_refuses_a_taken_code_or_a_missing_organization(storage: Storage) -> None:
    org, other = add_org(storage), add_org(storage)
    invite = _invite(org.code)
    _add(storage, invite)
    orphan = _invite(organization_code())
    for clash in (replace(invite, email="other@example.com"), replace(invite, org_code=other.code)):
        with pytest.raises(IntegrityViolation), storage.transaction() as uow:
            uow[INVITES_REPO].add(clash)
    with pytest.raises(IntegrityViolation), storage.transaction() as uow:
        uow[INVITES_REPO].add(orphan)
    with storage.read() as uow:
        assert uow[INVITES_REPO].get(org.code, invite.code) == invite
        assert uow[INVITES_REPO].get(other.code, invite.code) is None
        assert uow[INVITES_REPO].get(orphan.org_code, orphan.code) is None


def test_revoke_is_idempotent_and_scoped(storage: Storage) -> None:
    org, other = add_org(storage), add_org(storage)
    invite, untouched = _invite(org.code), _invite(org.code)
    _add(storage, invite, untouched)
    with storage.transaction() as uow:
        assert uow[INVITES_REPO].revoke(other.code, invite.code) is False
        assert uow[INVITES_REPO].revoke(org.code, invite_code()) is False
    with storage.read() as uow:
        assert uow[INVITES_REPO].get(org.code, invite.code) == invite
    with storage.transaction() as uow:
        assert uow[INVITES_REPO].revoke(org.code, invite.code) is True
    with storage.transaction() as uow:
        assert uow[INVITES_REPO].revoke(org.code, invite.code) is True  # idempotent
    with storage.read() as uow:
        assert uow[INVITES_REPO].get(org.code, invite.code) == replace(invite, is_revoked=True)
        assert uow[INVITES_REPO].get(org.code, untouched.code) == untouched


def test_list_page_in_creation_order_with_keyset(storage: Storage) -> None:
    org, other = add_org(storage), add_org(storage)
    invites = [_invite(org.code) for _ in range(5)]
    _add(storage, *invites)
    _add(storage, _invite(other.code))
    codes = [i.code for i in invites]
    rows = _page(storage, org.code)
    assert [i for _, i in rows] == invites
    assert all(position[0] == "" for position, _ in rows)
    first = _page(storage, org.code, limit=2)
    second = _page(storage, org.code, after=first[-1][0], limit=2)
    third = _page(storage, org.code, after=second[-1][0], limit=2)
    assert _codes(first + second + third) == codes
    assert _page(storage, org.code, after=third[-1][0], limit=2) == []
    down = _page(storage, org.code, descending=True, limit=3)
    assert _codes(down) == codes[::-1][:3]
    assert _codes(_page(storage, org.code, descending=True, after=down[-1][0])) == codes[::-1][3:]
    assert _page(storage, organization_code()) == []


def test_list_page_sorted_by_email_and_name(storage: Storage) -> None:
    org = add_org(storage)
    tag = uid()
    b = _invite(org.code, email=f"B{tag}@example.com", first_name="Zoe", last_name="Adams")
    a = _invite(org.code, email=f"a{tag}@example.com", first_name="amy", last_name="Zed")
    c = _invite(org.code, email=f"c{tag}@example.com")
    a2 = _invite(org.code, email=f"A{tag}@example.com", first_name="Amy", last_name="Zed")
    _add(storage, b, a, c, a2)
    by_email = _page(storage, org.code, sort="email")
    assert _codes(by_email) == [a.code, a2.code, b.code, c.code]  # case-insensitive, ties by seq
    first = _page(storage, org.code, sort="email", limit=2)
    rest = _page(storage, org.code, sort="email", after=first[-1][0])
    assert _codes(first + rest) == [a.code, a2.code, b.code, c.code]
    down = _page(storage, org.code, sort="email", descending=True, limit=3)
    down_rest = _page(storage, org.code, sort="email", descending=True, after=down[-1][0])
    assert _codes(down + down_rest) == [c.code, b.code, a2.code, a.code]

    by_name = _page(storage, org.code, sort="name")
    assert _codes(by_name) == [c.code, a.code, a2.code, b.code]  # no name sorts first
    first = _page(storage, org.code, sort="name", limit=1)
    rest = _page(storage, org.code, sort="name", after=first[-1][0], limit=10)
    assert _codes(first + rest) == [c.code, a.code, a2.code, b.code]
    up = _page(storage, org.code, sort="name", descending=True)
    assert _codes(up) == [b.code, a2.code, a.code, c.code]


def test_list_page_leaves_out_revoked_and_accepted_unless_asked(storage: Storage) -> None:
    org = add_org(storage)
    pending = _invite(org.code)
    revoked = _invite(org.code, is_revoked=True)
    accepted = _invite(org.code, accepted_on=LATER)
    both = _invite(org.code, is_revoked=True, accepted_on=LATER)
    later_revoked = _invite(org.code)
    _add(storage, pending, revoked, accepted, both, later_revoked)
    with storage.transaction() as uow:
        assert uow[INVITES_REPO].revoke(org.code, later_revoked.code) is True

    def codes(revoked_too: bool, accepted_too: bool) -> list[str]:
        rows = _page(storage, org.code, include_revoked=revoked_too, include_accepted=accepted_too)
        return _codes(rows)

    assert codes(False, False) == [pending.code]
    assert codes(True, False) == [pending.code, revoked.code, later_revoked.code]
    assert codes(False, True) == [pending.code, accepted.code]
    assert codes(True, True) == [
        pending.code,
        revoked.code,
        accepted.code,
        both.code,
        later_revoked.code,
    ]


def test_rollback_leaves_no_invite(storage: Storage) -> None:
    org = add_org(storage)
    kept = _invite(org.code)
    _add(storage, kept)
    fresh = _invite(org.code)
    with pytest.raises(Boom), storage.transaction() as uow:
        uow[INVITES_REPO].add(fresh)
        assert uow[INVITES_REPO].revoke(org.code, kept.code) is True
        assert uow[INVITES_REPO].get(org.code, fresh.code) == fresh
        raise Boom
    with storage.read() as uow:
        assert uow[INVITES_REPO].get(org.code, fresh.code) is None
        assert uow[INVITES_REPO].get(org.code, kept.code) == kept
    assert _codes(_page(storage, org.code)) == [kept.code]
