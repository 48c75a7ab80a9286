"""Conformance builders of the ``users`` resource: users, their identities, sessions,
MFA factors, passwords and claims, identities by id, and user search.

Sessions and MFA factors cannot be created through the API (no user sign-in), so they
are seeded straight into the server's database (``World.seed``, ``World.mfa_factor``).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from kindling.clock import isoformat
from tests.conformance.framework import (
    Req,
    World,
    builder,
    has_item,
    item_ids,
    now_iso,
    uid,
    unique_email,
)

USER_ID = re.compile(r"^kp_[0-9a-f]{32}$")
BCRYPT_HASH = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"


def user_identity(w: World, user: str) -> str:
    """A second (email) identity of ``user``."""
    if w.has("CreateUserIdentity") or not w.has("GetUserIdentities"):
        body = w.ok(
            "CreateUserIdentity",
            Req(f"/users/{user}/identities", json={"type": "email", "value": unique_email()}),
            "create an identity",
        )
        return str(body["identity"]["id"])
    listed = w.ok("GetUserIdentities", Req(f"/users/{user}/identities"), "list identities")
    return str(listed["identities"][0]["id"])


def session_row(w: World, user: str) -> str:
    """A sign-in session of ``user``, seeded (the API cannot create one)."""
    session = "session_" + uuid.uuid4().hex
    now = datetime.now(UTC)
    w.seed(
        "INSERT INTO user_sessions (id, user_id, org_code, client_id, user_agent, "
        "ip_address, created_on, expires_on, last_active_on) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            session,
            user,
            None,
            w.server.client_id,
            "conformance/1.0",
            "127.0.0.1",
            now_iso(),
            isoformat((now + timedelta(days=1)).timestamp()),
            now_iso(),
        ),
    )
    return session


@builder("getUsers")
def _get_users(w: World) -> Req:
    user = w.user()

    def check(body: Any) -> None:
        assert item_ids(body["users"]) == [user], body

    return Req(
        "/users", params={"user_id": user, "expand": "organizations,identities"}, check=check
    )


@builder("getUserData")
def _get_user_data(w: World) -> Req:
    email = unique_email()
    user = w.user(email)

    def check(body: Any) -> None:
        assert (body["id"], body["preferred_email"]) == (user, email), body

    return Req("/user", params={"id": user, "expand": "organizations,identities"}, check=check)


@builder("createUser")
def _create_user(w: World) -> Req:
    def check(body: Any) -> None:
        assert USER_ID.match(body["id"]) and body["created"] is True, body

    return Req(
        "/user",
        json={
            "profile": {"given_name": "Ada", "family_name": "Lovelace"},
            "provided_id": f"ext-{uid()}",
            "identities": [
                {"type": "email", "is_verified": True, "details": {"email": unique_email()}},
                {"type": "username", "details": {"username": f"conf{uid()}"}},
            ],
        },
        check=check,
    )


@builder("updateUser")
def _update_user(w: World) -> Req:
    user = w.user()

    def check(body: Any) -> None:
        assert (body["id"], body["given_name"]) == (user, "Renamed"), body

    return Req("/user", params={"id": user}, json={"given_name": "Renamed"}, check=check)


@builder("deleteUser")
def _delete_user(w: World) -> Req:
    return Req("/user", params={"id": w.user()})


@builder("GetUserIdentities")
def _get_user_identities(w: World) -> Req:
    def check(body: Any) -> None:
        assert len(body["identities"]) == 1, body

    return Req(f"/users/{w.user()}/identities", check=check)


@builder("CreateUserIdentity")
def _create_user_identity(w: World) -> Req:
    def check(body: Any) -> None:
        assert body["identity"]["id"], body

    return Req(
        f"/users/{w.user()}/identities",
        json={"type": "email", "value": unique_email("identity")},
        check=check,
    )


@builder("GetUserSessions")
def _get_user_sessions(w: World) -> Req:
    user = w.user()
    session_row(w, user)

    def check(body: Any) -> None:
        assert len(body["sessions"]) == 1, body

    return Req(f"/users/{user}/sessions", check=check)


@builder("DeleteUserSessions")
def _delete_user_sessions(w: World) -> Req:
    user = w.user()
    session_row(w, user)
    return Req(f"/users/{user}/sessions")


@builder("GetUsersMFA")
def _get_users_mfa(w: World) -> Req:
    user = w.user()
    w.mfa_factor(user)

    def check(body: Any) -> None:
        assert body["mfa"], body

    return Req(f"/users/{user}/mfa", check=check)


@builder("ResetUsersMFAAll")
def _reset_users_mfa_all(w: World) -> Req:
    user = w.user()
    w.mfa_factor(user)
    return Req(f"/users/{user}/mfa")


@builder("ResetUsersMFA")
def _reset_users_mfa(w: World) -> Req:
    user = w.user()
    return Req(f"/users/{user}/mfa/{w.mfa_factor(user)}")


@builder("SetUserPassword")
def _set_user_password(w: World) -> Req:
    return Req(
        f"/users/{w.user()}/password",
        json={"hashed_password": BCRYPT_HASH, "hashing_method": "bcrypt"},
    )


@builder("refreshUserClaims")
def _refresh_user_claims(w: World) -> Req:
    return Req(f"/users/{w.user()}/refresh_claims")


@builder("GetIdentity")
def _get_identity(w: World) -> Req:
    identity = user_identity(w, w.user())

    def check(body: Any) -> None:
        assert body["id"] == identity, body

    return Req(f"/identities/{identity}", check=check)


@builder("UpdateIdentity")
def _update_identity(w: World) -> Req:
    return Req(f"/identities/{user_identity(w, w.user())}", json={"is_primary": True})


@builder("DeleteIdentity")
def _delete_identity(w: World) -> Req:
    return Req(f"/identities/{user_identity(w, w.user())}")


@builder("searchUsers")
def _search_users(w: World) -> Req:
    email = unique_email("search")
    user = w.user(email)
    return Req("/search/users", params={"query": email}, check=has_item("results", user))
