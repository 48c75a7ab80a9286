"""``kindling.sdk`` against real servers: both engines over HTTP, and HTTPS with the local CA.

The client is configured as a user would (domain, credentials, CA file); a counting
``httpx.HTTPTransport`` (the real transport, only counted) shows how many token
requests were sent. The 401 path is forced for real: the cached token is revoked through
``POST /oauth2/revoke`` (RFC 7009), so the next call is refused and must be retried with a
new token.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from kindling.sdk import (
    AsyncManagementClient,
    BadRequest,
    Forbidden,
    ManagementClient,
    NotFound,
    TransportError,
    Unauthorized,
)
from tests.support import KindlingServer

README = Path(__file__).resolve().parents[1] / "README.md"


class Counting(httpx.HTTPTransport):
    """The real transport, recording ``(method, path, status)`` of every exchange."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[tuple[str, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.exchanges.append((request.method, request.url.path, response.status_code))
        return response

    def count(self, path: str, status: int | None = None, method: str | None = None) -> int:
        return sum(
            1
            for m, p, s in self.exchanges
            if p == path and status in (None, s) and method in (None, m)
        )


def sdk(server: KindlingServer, **options: Any) -> ManagementClient:
    return ManagementClient(server.base_url, server.client_id, server.client_secret, **options)


def test_the_token_is_fetched_once_and_reused_across_calls(server: KindlingServer) -> None:
    transport = Counting()
    with sdk(server, transport=transport) as client:
        assert client.base_url == server.base_url  # a full http:// URL is kept as it is
        users = client.users.get_users(page_size=1)
        assert users["code"] == "OK" and isinstance(users.get("users", []), list)
        client.roles.get_roles()
        client.apis.get_apis()
        assert client.token_requests == 1
    assert transport.count("/oauth2/token") == 1
    assert transport.count("/api/v1/users", 200) == 1


def test_a_refresh_margin_past_the_tokens_lifetime_refreshes_before_each_call(
    server: KindlingServer,
) -> None:
    with sdk(server, refresh_margin=10**8) as client:  # every token is always "about to expire"
        for _ in range(3):
            client.roles.get_roles()
        assert client.token_requests == 3


def test_a_revoked_token_is_replaced_once_and_the_call_succeeds(server: KindlingServer) -> None:
    transport = Counting()
    with sdk(server, transport=transport) as client:
        client.users.get_users(page_size=1)
        revoked = client.access_token()
        with server.client() as http:
            answer = http.post(
                "/oauth2/revoke",
                data={"token": revoked},
                auth=(server.client_id, server.client_secret),
            )
        assert answer.status_code == 200, answer.text
        assert client.users.get_users(page_size=1)["code"] == "OK"
        assert client.token_requests == 2 and client.access_token() != revoked
    assert transport.count("/api/v1/users", 401) == 1  # refused once, then retried
    assert transport.count("/api/v1/users", 200) == 2


def test_errors_are_typed_and_carry_kindes_codes(server: KindlingServer) -> None:
    with sdk(server) as client:
        with pytest.raises(NotFound) as missing:
            client.api_keys.get_api_key("no-such-key")
        assert (missing.value.status, missing.value.code) == (404, "API_KEY_NOT_FOUND")
        with pytest.raises(NotFound) as route:
            client.request("GET", "/api/v1/no_such_route")
        assert route.value.code == "ROUTE_NOT_FOUND"
        with pytest.raises(BadRequest) as size:
            client.users.get_users(page_size=0)
        assert size.value.code == "INVALID_PAGE_SIZE" and size.value.message
        key = f"sdk_{uuid.uuid4().hex[:10]}"
        client.roles.create_role({"name": "SDK role", "key": key})
        with pytest.raises(BadRequest) as duplicate:
            client.roles.create_role({"name": "SDK role", "key": key})
        assert duplicate.value.code == "ROLE_KEY_EXISTS"
    with sdk(server, scopes=["read:roles"]) as narrow:
        narrow.roles.get_roles()
        with pytest.raises(Forbidden) as scope:
            narrow.users.get_users()
        assert scope.value.code == "INSUFFICIENT_SCOPE"
    with ManagementClient(server.base_url, server.client_id, "not-the-secret") as wrong:
        with pytest.raises(Unauthorized) as refused:
            wrong.users.get_users()
        assert refused.value.code == "invalid_client" and wrong.token_requests == 1


def _org_with_members(client: ManagementClient, count: int) -> tuple[str, str, list[str]]:
    tag = uuid.uuid4().hex[:10]
    org = client.organizations.create_organization({"name": f"SDK {tag}"})
    code = org["organization"]["code"]
    ids = [
        client.users.create_user(
            {
                "profile": {"given_name": "Pager"},
                "identities": [
                    {"type": "email", "details": {"email": f"pager{i}-{tag}@example.com"}}
                ],
            }
        )["id"]
        for i in range(count)
    ]
    client.organizations.add_organization_users(code, {"users": [{"id": i} for i in ids]})
    return tag, code, ids


def test_iterators_follow_next_token_and_starting_after_across_pages(
    server: KindlingServer,
) -> None:
    transport = Counting()
    with sdk(server, transport=transport) as client:
        tag, code, ids = _org_with_members(client, 5)
        members = [
            m["id"] for m in client.organizations.iterate_organization_users(code, page_size=2)
        ]
        assert members == ids  # next_token: pages of 2, 2 and 1
        assert transport.count(f"/api/v1/organizations/{code}/users", method="GET") == 3
        found = [u["id"] for u in client.search.iterate_search_users(query=tag, page_size=2)]
        assert sorted(found) == sorted(ids)  # starting_after the last id of each page
        assert transport.count("/api/v1/search/users") == 3
        everyone = [u["id"] for u in client.users.iterate(page_size=3)]
        assert set(ids) <= set(everyone) and len(everyone) == len(set(everyone))


def test_the_async_client(server: KindlingServer) -> None:
    async def main() -> None:
        async with AsyncManagementClient(
            server.base_url, server.client_id, server.client_secret
        ) as client:
            key = f"sdk_async_{uuid.uuid4().hex[:8]}"
            created, listing = await asyncio.gather(
                client.roles.create_role({"name": "Async role", "key": key}),
                client.users.get_users(page_size=1),
            )
            role = await client.roles.get_role(created["role"]["id"])
            assert role["role"]["key"] == key and listing["code"] == "OK"
            keys = [r["key"] async for r in client.roles.iterate(page_size=2)]
            assert key in keys
            with pytest.raises(NotFound) as missing:
                await client.api_keys.get_api_key("no-such-key")
            assert missing.value.code == "API_KEY_NOT_FOUND"
            assert client.token_requests == 1

    asyncio.run(main())


def test_a_bare_domain_is_https_and_verify_takes_the_servers_ca(
    tls_server: KindlingServer,
) -> None:
    assert tls_server.ca_path
    with ManagementClient(
        tls_server.domain,
        tls_server.client_id,
        tls_server.client_secret,
        verify=tls_server.ca_path,
    ) as client:
        assert client.base_url == f"https://{tls_server.domain}"
        assert client.users.get_users(page_size=1)["code"] == "OK"
    # Without the CA the certificate is refused, at once: a retry cannot fix that.
    with ManagementClient(
        tls_server.domain, tls_server.client_id, tls_server.client_secret
    ) as untrusting:
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusting.users.get_users()
        assert untrusting.token_requests == 1


def test_the_readme_snippet_runs(
    server: KindlingServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = re.search(
        r"^<!-- snippet: kindling-sdk -->\n```python\n(.*?)^```$",
        README.read_text(encoding="utf-8"),
        re.M | re.S,
    )
    assert found, "README.md has no kindling-sdk snippet"
    monkeypatch.setenv("KINDE_DOMAIN", server.base_url)
    monkeypatch.setenv("KINDE_MANAGEMENT_CLIENT_ID", server.client_id)
    monkeypatch.setenv("KINDE_MANAGEMENT_CLIENT_SECRET", server.client_secret)
    exec(compile(found.group(1), "README.md:kindling-sdk", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    with server.client() as http:
        users = http.get(
            "/api/v1/users",
            params={"page_size": 500},
            headers={"Authorization": f"Bearer {server.token()}"},
        ).json()["users"]
    assert lines[-1] == "404 API_KEY_NOT_FOUND"
    assert len(lines) - 1 >= len(users) >= 1  # at least the first page, all of its users
    assert {line.split()[0] for line in lines[:-1]} >= {u["id"] for u in users}
