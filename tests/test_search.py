"""User search (``GET /search/users``) on both engines.

Property definitions and organization API-scope grants belong to other resources;
the rows the filters read are seeded straight into the database.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from kindling.web.app import management_operations
from tests.support import KindlingServer
from tests.test_user_accounts import (
    BASE,
    CONTRACT,
    Api,
    api_fixture,  # noqa: F401  (the ``api`` fixture)
    assert_error,
    db,
    token_for,
    uid,
    unique_email,
)

PATH = "/search/users"
NOW = "2024-01-01T00:00:00+00:00"


def search(api: Api, **params: Any) -> list[dict[str, Any]]:
    body = api.ok("GET", PATH, params=params)
    assert body["code"] == "OK" and set(body) == {"code", "message", "results"}
    results: list[dict[str, Any]] = body["results"]
    return results


def ids(results: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in results]


def seed_property(server: KindlingServer) -> str:
    """A user property (and its category); returns the property key."""
    category, prop, key = "cat_" + uuid.uuid4().hex, "prop_" + uuid.uuid4().hex, f"k_{uid()}"
    db(
        server,
        "INSERT INTO property_categories (id, name, context, created_on) VALUES (?, ?, ?, ?)",
        (category, f"cat {key}", "usr", NOW),
    )
    db(
        server,
        "INSERT INTO properties (id, key, name, type, context, is_private, is_kinde_property, "
        "category_id, created_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (prop, key, f"prop {key}", "single_line_text", "usr", False, False, category, NOW),
    )
    return key


def set_property(server: KindlingServer, user_id: str, key: str, value: str | None) -> None:
    db(
        server,
        "INSERT INTO user_property_values (user_id, property_id, value) "
        "SELECT ?, id, ? FROM properties WHERE key = ?",
        (user_id, value, key),
    )


def test_operation_matches_the_contract(api: Api) -> None:
    (op,) = [o for o in management_operations() if (o.method, o.path) == ("GET", PATH)]
    spec = CONTRACT.find("GET", BASE + PATH)
    assert (op.scope, op.operation_id, (op.status,)) == (
        spec.scope,
        spec.operation_id,
        spec.success_codes,
    )
    assert {p.name for p in op.query} == {p["name"] for p in spec.parameters}
    resp = api.call("GET", PATH, token=token_for(api.server, ["read:roles"]))
    assert_error(resp, 403)


def test_query_matches_names_emails_usernames_and_ids(api: Api) -> None:
    tag = uid()
    email = unique_email(f"Mail{tag}")
    ada = api.create_user(email, profile={"given_name": f"Ada{tag}", "family_name": "Lovelace"})
    grace = api.create_user(
        unique_email(), profile={"given_name": "Grace", "family_name": f"Hopper{tag}"}
    )
    username = f"ÉCLAIR{tag}"
    named = api.create_user()
    api.add_identity(named, type="username", value=username)

    assert ids(search(api, query=tag)) == [ada, grace, named]
    assert ids(search(api, query=f"ada{tag.upper()}")) == [ada]  # case-insensitive
    assert ids(search(api, query=f"ada{tag} lovelace")) == [ada]  # every word must match
    assert ids(search(api, query=f"ada{tag} hopper{tag}")) == []
    assert ids(search(api, query=f"hopper{tag[:6]}")) == [grace]  # substring
    assert ids(search(api, query=f"éclair{tag}")) == [named]  # identities are case-folded
    assert ids(search(api, query=email.upper())) == [ada]  # exact email, on the index
    assert ids(search(api, query=email[1:])) == []  # an email is matched exactly
    assert ids(search(api, query=grace)) == [grace]  # the user id
    assert ids(search(api, query=f"{tag}%")) == []  # wildcards are literal
    assert ids(search(api, query=f"{tag[:4]}_{tag[5:]}")) == []

    result = search(api, query=email)[0]
    assert result["email"] == email and result["first_name"] == f"Ada{tag}"
    assert result["last_name"] == "Lovelace" and result["is_suspended"] is False
    assert result["api_scopes"] == [] and result["total_sign_ins"] == 0
    assert "organizations" not in result and "identities" not in result
    assert "properties" not in result
    only_username = search(api, query=username)[0]
    assert only_username["email"] is None and only_username["username"] == username
    assert "first_name" not in only_username  # not nullable: omitted


def test_star_pages_through_everyone(api: Api) -> None:
    sentinel = api.create_user(unique_email("star"))
    made = [api.create_user(unique_email("star")) for _ in range(3)]
    assert ids(search(api, query="*", starting_after=sentinel, page_size=3)) == made
    assert ids(search(api, query="", starting_after=sentinel, page_size=1)) == made[:1]
    first = search(api, query="*", page_size=2)
    assert len(first) == 2
    nxt = search(api, page_size=2, starting_after=first[-1]["id"])
    assert nxt and not set(ids(first)) & set(ids(nxt))
    back = search(api, page_size=2, ending_before=nxt[0]["id"])
    assert ids(back) == ids(first)
    tail = search(api, starting_after=made[-1])
    assert made[-1] not in ids(tail)
    assert ids(search(api, ending_before=made[2], page_size=2)) == made[:2]
    for params, code in (
        ({"starting_after": made[0], "ending_before": made[1]}, "TOO_MANY_PARAMETERS"),
        ({"starting_after": "kp_missing"}, "INVALID_STARTING_AFTER"),
        ({"ending_before": "kp_missing"}, "INVALID_ENDING_BEFORE"),
        ({"page_size": 501}, "PAGE_SIZE_LIMIT_EXCEEDED"),
        ({"page_size": 0}, "INVALID_PAGE_SIZE"),
        ({"expand": "billing"}, "INVALID_EXPAND"),
        ({"query": " ".join("w" for _ in range(11))}, "QUERY_TOO_LONG"),
        ({"query": "a\tb\x01"}, "INVALID_QUERY"),
    ):
        assert_error(api.call("GET", PATH, params=params), 400, code)


def test_expand_organizations_identities_properties(api: Api) -> None:
    org = api.create_org()
    email = unique_email("expand")
    user_id = api.create_user(email, organization_code=org)
    api.add_identity(user_id, type="username", value=f"exp_{uid()}")
    key, empty_key = seed_property(api.server), seed_property(api.server)
    set_property(api.server, user_id, key, "gold")
    set_property(api.server, user_id, empty_key, None)
    (result,) = search(api, query=email, expand="organizations,identities,properties")
    assert result["organizations"] == [org]
    assert [i["type"] for i in result["identities"]] == ["email", "username"]
    assert result["identities"][0]["identity"] == email
    assert result["properties"] == {key: "gold"}
    (plain,) = search(api, query=api.create_user(), expand="organizations,properties")
    assert plain["organizations"] == [] and plain["properties"] == {}


def test_property_filter_in_both_encodings(api: Api) -> None:
    key, other_key = seed_property(api.server), seed_property(api.server)
    tag = uid()
    gold = api.create_user(unique_email(tag))
    silver = api.create_user(unique_email(tag))
    both = api.create_user(unique_email(tag))
    set_property(api.server, gold, key, "gold")
    set_property(api.server, silver, key, "silver")
    set_property(api.server, both, key, "gold")
    set_property(api.server, both, other_key, "yes")

    # JavaScript clients: deepObject ``properties[key]=value``.
    assert ids(search(api, **{f"properties[{key}]": "gold"})) == [gold, both]
    multi = [(f"properties[{key}]", "gold"), (f"properties[{key}]", "silver")]
    assert ids(api.ok("GET", PATH, params=multi)["results"]) == [gold, silver, both]
    pair = {f"properties[{key}]": "gold", f"properties[{other_key}]": "yes"}
    assert ids(search(api, **pair)) == [both]
    # The Python SDK: a JSON object, values as lists (optionally wrapped).
    assert ids(search(api, properties=json.dumps({key: ["silver"]}))) == [silver]
    wrapped = json.dumps({"properties": {key: ["gold", "silver"]}})
    assert ids(search(api, properties=wrapped, query=tag)) == [gold, silver, both]
    assert ids(search(api, properties=json.dumps({key: "nothing"}))) == []

    for bad, code in (
        ("{", "INVALID_PROPERTIES"),
        ("[1]", "INVALID_PROPERTIES"),
        (json.dumps({key: [1]}), "INVALID_PROPERTIES"),
        (json.dumps({key: []}), "INVALID_PROPERTIES"),
        (json.dumps({f"nope_{uid()}": ["x"]}), "PROPERTY_NOT_FOUND"),
        (json.dumps({key: [str(n) for n in range(101)]}), "TOO_MANY_FILTER_VALUES"),
    ):
        assert_error(api.call("GET", PATH, params={"properties": bad}), 400, code)
    resp = api.call("GET", PATH, params={f"properties[nope_{uid()}]": "x"})
    assert_error(resp, 400, "PROPERTY_NOT_FOUND")


def test_api_scopes_filter_and_results(api: Api) -> None:
    org = api.create_org()
    audience = f"https://search-{uid()}.example.com"
    created = api.call("POST", "/apis", json={"name": f"api-{uid()}", "audience": audience})
    assert created.status_code == 200, created.text
    api_id = created.json()["api"]["id"]
    scope_ids = {}
    for key in ("read:things", "write:things"):
        resp = api.call("POST", f"/apis/{api_id}/scopes", json={"key": key})
        assert resp.status_code == 200, resp.text
        scope_ids[key] = resp.json()["scope"]["id"]
    reader = api.create_user(unique_email(), organization_code=org)
    writer = api.create_user(unique_email(), organization_code=org)
    for user_id, keys in ((reader, ["read:things"]), (writer, ["read:things", "write:things"])):
        for key in keys:
            db(
                api.server,
                "INSERT INTO organization_user_api_scopes (org_code, user_id, api_id, scope_id) "
                "VALUES (?, ?, ?, ?)",
                (org, user_id, api_id, scope_ids[key]),
            )
    assert ids(search(api, api_scopes="write:things")) == [writer]
    assert ids(search(api, api_scopes="read:things,write:things")) == [writer]
    found = ids(search(api, api_scopes="read:things", page_size=500))
    assert reader in found and writer in found
    (result,) = search(api, query=writer)
    assert result["api_scopes"] == [
        {"org_code": org, "scope": "read:things", "api_id": api_id},
        {"org_code": org, "scope": "write:things", "api_id": api_id},
    ]
    assert ids(search(api, api_scopes=f"nothing_{uid()}")) == []
