"""What a ``token.issued`` row says about the token's scopes (``platform.audit.token_issued``).

Always the count and a digest of the set; the names only when the request narrowed the
scopes to a few. The digest is the one an auditor can recompute from a token's ``scope``
claim, or from the grant rebuilt out of the authorization history.
"""

from __future__ import annotations

import hashlib

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform import audit

T0 = 1_700_000_000_000


def row(scopes: tuple[str, ...], narrowed: bool) -> dict[str, object]:
    entry = audit.token_issued(T0, "app", ["https://a"], scopes, "jti", None, "rid", narrowed)
    return dict(entry.details)


def test_a_full_grant_is_counted_and_digested_not_listed() -> None:
    scopes = tuple(MANAGEMENT_API_SCOPES)
    assert len(scopes) == 149
    details = row(scopes, narrowed=False)
    assert details == {
        "audiences": ["https://a"],
        "scope_count": 149,
        "scope_sha256": hashlib.sha256(" ".join(sorted(scopes)).encode()).hexdigest(),
    }
    # The row stays small: the 149 names would be ~3 kB of JSON in every row.
    assert len(repr(details)) < 200


def test_a_narrowed_request_lists_its_few_scopes() -> None:
    details = row(("read:users", "read:roles"), narrowed=True)
    assert details["scopes"] == ["read:users", "read:roles"]
    assert details["scope_count"] == 2


def test_a_narrowed_request_for_many_scopes_is_summarised_like_a_full_grant() -> None:
    many = tuple(MANAGEMENT_API_SCOPES)[: audit.LISTED_SCOPES + 1]
    assert "scopes" not in row(many, narrowed=True)
    assert row(many[: audit.LISTED_SCOPES], narrowed=True)["scopes"] == list(
        many[: audit.LISTED_SCOPES]
    )


def test_the_digest_is_of_the_set_whatever_the_order() -> None:
    claim = "read:users read:roles"
    assert audit.scope_digest(("read:roles", "read:users")) == audit.scope_digest(claim.split())
    assert audit.scope_digest(("read:users",)) != audit.scope_digest(("read:users", "read:roles"))
    assert audit.scope_digest(("a", "a", "b")) == audit.scope_digest(("b", "a"))
