"""The admin console over HTTP: sign-in, sessions, CSRF, throttling, and every page's forms.

Runs against real ``kindling serve`` processes on both engines. The owner's password is
read from the first-run banner, exactly as a person would.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from kindling.clock import FrozenClock
from kindling.config import Settings
from kindling.context import build_context
from kindling.resources.admin import service as admin
from kindling.resources.admin.repository import ADMIN_REPO
from tests.console_support import Console, csrf_of, owner_password, set_password
from tests.support import KindlingServer


@pytest.fixture
def console(server: KindlingServer) -> Iterator[Console]:
    client = Console(server).login(owner_password(server))
    yield client
    client.close()


def _cookie_header(response: httpx.Response, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(name + "="):
            return value
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _app_id_from(page: str) -> str:
    found = re.search(r'id="client-id"[^>]*value="([0-9a-f]{32})"', page)
    assert found, page[:3000]
    return found.group(1)


def _secret_from(page: str) -> str:
    found = re.search(r'id="client-secret"[^>]*value="([^"]+)"', page)
    assert found, page[:3000]
    return found.group(1)


def _token(server: KindlingServer, client_id: str, secret: str) -> httpx.Response:
    with server.client() as http:
        return http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "audience": server.audience,
            },
        )


# --- owner account, sign-in, cookies --------------------------------------------------


def test_banner_prints_console_and_owner_password(server: KindlingServer) -> None:
    assert f"admin console:  {server.issuer}/admin" in server.output
    assert f"API docs:       {server.issuer}/api/docs" in server.output
    password = owner_password(server)
    assert len(password) >= 20
    assert "  username: admin" in server.output


def test_sign_in_sets_a_strict_httponly_session_cookie(server: KindlingServer) -> None:
    client = Console(server)
    try:
        response = client.login_response(owner_password(server))
        assert response.status_code == 303
        cookie = _cookie_header(response, "kindling_admin").lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/admin" in cookie
        assert "secure" not in cookie  # plain HTTP here; see the TLS test
        assert client.get("/admin/applications").headers["cache-control"] == "no-store"
    finally:
        client.close()


def test_session_cookie_is_secure_under_tls(tls_server: KindlingServer) -> None:
    client = Console(tls_server)
    try:
        response = client.login_response(owner_password(tls_server))
        assert response.status_code == 303, response.text
        assert "; secure" in _cookie_header(response, "kindling_admin").lower()
        page = client.get("/admin/applications")
        assert "Create an M2M application" in page.text
    finally:
        client.close()


def test_wrong_password_is_refused_without_a_session(server: KindlingServer) -> None:
    client = Console(server)
    try:
        response = client.login_response("not-the-password-" + uuid.uuid4().hex)
        assert response.status_code == 401
        assert "not correct" in response.text
        assert not any(
            v.startswith("kindling_admin=") for v in response.headers.get_list("set-cookie")
        )
        assert (
            client.get("/admin/applications", expect=303)
            .headers["location"]
            .startswith("/admin/login")
        )
    finally:
        client.close()


def test_sign_in_form_needs_its_csrf_cookie_and_our_origin(server: KindlingServer) -> None:
    password = owner_password(server)
    with httpx.Client(base_url=server.base_url, follow_redirects=False) as http:
        page = http.get("/admin/login")
        token = csrf_of(page.text)
        form = {"csrf_token": token, "username": "admin", "password": password}
        foreign = http.post("/admin/login", data=form, headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403
        http.cookies.clear()
        no_cookie = http.post("/admin/login", data=form, headers={"Origin": server.base_url})
        assert no_cookie.status_code == 403
        assert "kindling_admin=" not in ";".join(no_cookie.headers.get_list("set-cookie"))


def test_five_failures_throttle_the_account_from_that_address(server: KindlingServer) -> None:
    username = _unique("ops").lower()
    password = "correct horse " + uuid.uuid4().hex
    set_password(server, username, password)
    client = Console(server)
    try:
        for _ in range(admin.THROTTLE_MAX):
            assert client.login_response("wrong-" + uuid.uuid4().hex, username).status_code == 401
        blocked = client.login_response(password, username)
        assert blocked.status_code == 429
        assert "Too many failed sign-ins" in blocked.text
        assert 0 < int(blocked.headers["retry-after"]) <= admin.THROTTLE_WINDOW
        # Another account from the same address is not affected.
        client.login(owner_password(server))
    finally:
        client.close()


def test_unknown_usernames_are_throttled_too(server: KindlingServer) -> None:
    client = Console(server)
    try:
        name = _unique("ghost")
        codes = [client.login_response("x" * 20, name).status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
    finally:
        client.close()


def test_logout_ends_the_session_on_the_server(server: KindlingServer) -> None:
    client = Console(server).login(owner_password(server))
    try:
        stolen = client.http.cookies.get("kindling_admin")
        assert stolen
        out = client.post("/admin/logout")
        assert out.headers["location"] == "/admin/login?signed_out=1"
        assert "kindling_admin=" in _cookie_header(out, "kindling_admin")
        # Replaying the old cookie does not work: the session row is gone.
        with httpx.Client(base_url=server.base_url, follow_redirects=False) as other:
            other.cookies.set("kindling_admin", stolen, path="/admin")
            again = other.get("/admin/users")
            assert again.status_code == 303
            assert again.headers["location"] == "/admin/login?next=/admin/users"
    finally:
        client.close()


def test_logged_out_users_are_sent_to_sign_in_for_every_page(server: KindlingServer) -> None:
    with httpx.Client(base_url=server.base_url, follow_redirects=False) as http:
        for path in ("/admin/applications", "/admin/test", "/admin/keys", "/admin/postman"):
            response = http.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/admin/login?next=" + path)
        posted = http.post("/admin/applications", data={"name": "x"})
        assert posted.status_code == 303
        assert posted.headers["location"].startswith("/admin/login")
        login = http.get("/admin/login?next=//evil.example/")
        assert 'name="next" value="/admin/"' in login.text


def test_set_password_changes_the_password_and_ends_sessions(server: KindlingServer) -> None:
    username = _unique("second").lower()
    first = "first password " + uuid.uuid4().hex
    set_password(server, username, first)
    client = Console(server).login(first, username)
    try:
        second = "second password " + uuid.uuid4().hex
        set_password(server, username, second)
        assert (
            client.get("/admin/applications", expect=303)
            .headers["location"]
            .startswith("/admin/login")
        )
        assert client.login_response(first, username).status_code == 401
        client.login(second, username)
    finally:
        client.close()


def test_set_password_refuses_short_passwords(server: KindlingServer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kindling", "admin", "set-password", "--password-stdin"],
        env=server.env(),
        input="short\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "at least 12 characters" in result.stderr


# --- CSRF and origin checks on forms ---------------------------------------------------


def test_forms_without_the_csrf_token_are_refused(console: Console) -> None:
    name = _unique("no-csrf")
    missing = console.http.post(
        "/admin/applications", data={"name": name}, headers={"Origin": console.origin}
    )
    assert missing.status_code == 403
    wrong = console.http.post(
        "/admin/applications",
        data={"name": name, "csrf_token": "forged"},
        headers={"Origin": console.origin},
    )
    assert wrong.status_code == 403
    assert name not in console.get("/admin/applications?page_size=500").text


def test_cross_site_posts_are_refused_even_with_the_token(console: Console) -> None:
    name = _unique("cross-site")
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        console.post("/admin/applications", {"name": name}, expect=403, headers=headers)
    # Without Origin, the Referer decides.
    token = csrf_of(console.get("/admin/applications").text)
    referred = console.http.post(
        "/admin/applications",
        data={"name": name, "csrf_token": token},
        headers={"Referer": "http://evil.example/page"},
    )
    assert referred.status_code == 403
    assert name not in console.get("/admin/applications?page_size=500").text


def test_pages_send_security_headers(console: Console) -> None:
    page = console.get("/admin/applications")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    # Everything the page loads comes from this server.
    assert not re.search(r'(src|href)="(https?:)?//', page.text)


# --- applications, their APIs, secrets ------------------------------------------------


def test_application_lifecycle(console: Console, server: KindlingServer) -> None:
    name = _unique("console-app")
    created = console.post("/admin/applications", {"name": name}, expect=200)
    assert "shown only once" in created.text
    assert 'data-canonical="/admin/applications/' in created.text
    app_id = _app_id_from(created.text)
    secret = _secret_from(created.text)
    assert f'value="{server.domain}"' in created.text  # the domain to give the SDKs

    # The secret is never shown again.
    page = console.get(f"/admin/applications/{app_id}")
    assert secret not in page.text and name in page.text
    assert name in console.get("/admin/applications?page_size=500").text

    # Not authorized yet: the token endpoint refuses it.
    assert _token(server, app_id, secret).status_code == 400

    # Authorize the Management API with two scopes.
    mgmt_id = re.search(
        r'action="/admin/applications/[0-9a-f]+/apis/([0-9a-f]+)"',
        console.get(f"/admin/applications/{app_id}/apis").text,
    )
    assert mgmt_id
    apis_page = f"/admin/applications/{app_id}/apis"
    console.post(
        f"{apis_page}/{mgmt_id.group(1)}",
        {"action": "authorize", "scope": ["read:users", "read:roles"]},
        form_page=apis_page,
    )
    granted = _token(server, app_id, secret)
    assert granted.status_code == 200, granted.text
    assert sorted(granted.json()["scope"].split()) == ["read:roles", "read:users"]

    # Change the scopes to exactly one; then revoke.
    console.post(
        f"{apis_page}/{mgmt_id.group(1)}",
        {"action": "save", "scope": ["read:organizations"]},
        form_page=apis_page,
    )
    assert _token(server, app_id, secret).json()["scope"] == "read:organizations"
    listed = console.get(apis_page).text
    assert re.search(r'value="read:organizations"\s+checked', listed)
    assert not re.search(r'value="read:users"\s+checked', listed)
    console.post(f"{apis_page}/{mgmt_id.group(1)}", {"action": "revoke"}, form_page=apis_page)
    assert _token(server, app_id, secret).status_code == 400

    # Rotate: both secrets work during the grace window; revoke_old ends the old one.
    console.post(
        f"{apis_page}/{mgmt_id.group(1)}",
        {"action": "authorize", "scope": ["read:users"]},
        form_page=apis_page,
    )
    rotated = console.post(
        f"/admin/applications/{app_id}/rotate",
        {},
        expect=200,
        form_page=f"/admin/applications/{app_id}",
    )
    second = _secret_from(rotated.text)
    assert second != secret
    assert _token(server, app_id, secret).status_code == 200
    assert _token(server, app_id, second).status_code == 200
    third = _secret_from(
        console.post(
            f"/admin/applications/{app_id}/rotate",
            {"revoke_old": "1"},
            expect=200,
            form_page=f"/admin/applications/{app_id}",
        ).text
    )
    assert _token(server, app_id, second).status_code == 401
    assert _token(server, app_id, third).status_code == 200

    # Delete.
    deleted = console.post(
        f"/admin/applications/{app_id}/delete", form_page=f"/admin/applications/{app_id}"
    )
    assert f"Deleted the application {name}" in console.follow(deleted).text
    console.get(f"/admin/applications/{app_id}", expect=404)
    assert _token(server, app_id, third).status_code == 401


def test_invalid_input_comes_back_as_a_message(console: Console) -> None:
    back = console.post(
        "/admin/applications",
        {"name": "   "},
        form_page="/admin/applications",
        headers={"Referer": console.origin + "/admin/applications"},
    )
    assert back.headers["location"] == "/admin/applications"
    assert "name is required" in console.follow(back).text.lower()
    # The message is shown once.
    assert "name is required" not in console.get("/admin/applications").text.lower()


def test_test_page_mints_a_token_and_its_python_snippet_runs(
    console: Console, server: KindlingServer
) -> None:
    created = console.post("/admin/applications", {"name": _unique("tester")}, expect=200)
    app_id = _app_id_from(created.text)
    apis_page = f"/admin/applications/{app_id}/apis"
    mgmt = re.search(r'/apis/([0-9a-f]+)"', console.get(apis_page).text)
    assert mgmt
    console.post(
        f"{apis_page}/{mgmt.group(1)}",
        {"action": "authorize", "scope": ["read:users", "read:organizations"]},
        form_page=apis_page,
    )
    page = console.get(f"/admin/test?app={app_id}")
    assert f'value="{app_id}" selected' in page.text
    result = console.post(
        "/admin/test",
        {"app": app_id, "audience": server.audience},
        expect=200,
        form_page=f"/admin/test?app={app_id}",
    ).text
    token = re.search(r'<textarea id="access-token"[^>]*>([^<]+)</textarea>', result)
    assert token
    access_token = token.group(1).strip()
    jwks = jwt.PyJWKClient(f"{server.base_url}/.well-known/jwks")
    claims = jwt.decode(
        access_token,
        jwks.get_signing_key_from_jwt(access_token).key,
        algorithms=["RS256"],
        audience=server.audience,
        issuer=server.issuer,
    )
    assert claims["azp"] == app_id
    assert sorted(claims["scope"].split()) == ["read:organizations", "read:users"]
    assert f'href="/api/docs#token={access_token}"' in result
    assert "?token=" not in result  # never in a query string
    assert "&#34;alg&#34;: &#34;RS256&#34;" in result or '"alg": "RS256"' in result
    # The Python snippet (official SDK) works as printed.
    snippet = re.search(r'id="snippet-python"[^>]*><code[^>]*>(.*?)</code>', result, re.S)
    assert snippet
    code = snippet.group(1).replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "users=" in run.stdout or "code='OK'" in run.stdout, run.stdout


def test_test_page_without_an_authorized_app_choice(console: Console) -> None:
    result = console.post(
        "/admin/test",
        {"app": "0" * 32, "audience": "https://nowhere.example"},
        form_page="/admin/test",
        headers={"Referer": console.origin + "/admin/test"},
    )
    assert result.headers["location"] == "/admin/test"
    assert "flash-error" in console.follow(result).text


# --- APIs ----------------------------------------------------------------------------


def test_register_an_api_and_manage_its_scopes(console: Console) -> None:
    audience = f"https://{_unique('orders')}.example.com"
    key = "read:" + _unique("orders")
    created = console.post(
        "/admin/apis", {"name": "Orders", "audience": audience}, form_page="/admin/apis"
    )
    api_path = created.headers["location"]
    assert re.fullmatch(r"/admin/apis/[0-9a-f]{32}", api_path)
    assert audience in console.follow(created).text
    console.post(
        f"{api_path}/scopes",
        {"key": key, "description": "Read orders"},
        form_page=api_path,
    )
    page = console.get(api_path).text
    assert key in page and "Read orders" in page
    duplicate = console.post(
        f"{api_path}/scopes",
        {"key": key},
        form_page=api_path,
        headers={"Referer": console.origin + api_path},
    )
    assert "already has this scope" in console.follow(duplicate).text
    scope_id = re.search(r"/scopes/(api_scope_[0-9a-f]+)/delete", page)
    assert scope_id
    console.post(f"{api_path}/scopes/{scope_id.group(1)}/delete", form_page=api_path)
    assert key not in console.get(api_path).text
    console.post(f"{api_path}/delete", form_page=api_path)
    console.get(api_path, expect=404)
    assert audience not in console.get("/admin/apis").text


# --- users, organizations, roles, permissions, keys -------------------------------------


def test_users_create_search_edit_page_delete(console: Console) -> None:
    domain = _unique("people") + ".example"
    for i in range(3):
        console.post(
            "/admin/users",
            {"email": f"u{i}@{domain}", "given_name": f"U{i}"},
            form_page="/admin/users",
        )
    found = console.get(f"/admin/users?email=u1@{domain}").text
    assert f"u1@{domain}" in found and f"u0@{domain}" not in found
    user_id = re.search(r'href="/admin/users/(kp_[0-9a-f]{32})"', found)
    assert user_id
    user_path = f"/admin/users/{user_id.group(1)}"
    console.post(
        user_path,
        {"given_name": "Ada", "family_name": "Lovelace", "is_suspended": "1"},
        form_page=user_path,
    )
    edited = console.get(user_path).text
    assert 'value="Ada"' in edited and 'value="Lovelace"' in edited
    assert re.search(r'name="is_suspended" value="1"\s+checked', edited)
    # Paging: two per page, the next link leads to different users.
    first = console.get("/admin/users?page_size=2").text
    next_link = re.search(r'href="(/admin/users\?[^"]*after=[^"]+)" rel="next"', first)
    assert next_link
    second = console.get(next_link.group(1).replace("&amp;", "&")).text
    first_ids = set(re.findall(r"kp_[0-9a-f]{32}", first))
    second_ids = set(re.findall(r"kp_[0-9a-f]{32}", second))
    assert first_ids and second_ids and not first_ids & second_ids
    console.get("/admin/users?after=forged", expect=400)
    console.post(f"{user_path}/delete", form_page=user_path)
    console.get(user_path, expect=404)
    after_delete = console.get(f"/admin/users?email=u1@{domain}").text
    assert "No users found." in after_delete and user_id.group(1) not in after_delete


def test_organizations_with_members(console: Console) -> None:
    email = f"{_unique('member')}@example.com"
    console.post("/admin/users", {"email": email}, form_page="/admin/users")
    name = _unique("Org")
    created = console.post("/admin/organizations", {"name": name}, form_page="/admin/organizations")
    org_path = created.headers["location"]
    assert re.fullmatch(r"/admin/organizations/org_[0-9a-f]{11}", org_path)
    assert name in console.get("/admin/organizations?page_size=500").text
    console.post(f"{org_path}/members", {"user": email}, form_page=org_path)
    page = console.get(org_path).text
    assert email in page
    user_id = re.search(r"/members/(kp_[0-9a-f]{32})/delete", page)
    assert user_id
    missing = console.post(
        f"{org_path}/members",
        {"user": "nobody@nowhere.example"},
        form_page=org_path,
        headers={"Referer": console.origin + org_path},
    )
    assert "No user has the email" in console.follow(missing).text
    console.post(f"{org_path}/members/{user_id.group(1)}/delete", form_page=org_path)
    assert email not in console.get(org_path).text
    console.post(f"{org_path}/delete", form_page=org_path)
    console.get(org_path, expect=404)


def _all_pages(console: Console, path: str) -> str:
    """The text of a paged console list, following its "Next page" links."""
    texts = []
    while True:
        text = console.get(path).text
        texts.append(text)
        found = re.search(r'href="([^"]+)" rel="next"', text)
        if found is None:
            return "\n".join(texts)
        path = html.unescape(found.group(1))


def test_roles_and_permissions(console: Console) -> None:
    key = _unique("auditor").replace("-", "_")
    console.post("/admin/roles", {"name": "Auditor", "key": key}, form_page="/admin/roles")
    roles = _all_pages(console, "/admin/roles")
    assert key in roles
    role_id = re.search(
        r'action="/admin/roles/([^/"]+)/delete"[^>]*data-confirm="[^"]*' + key, roles
    )
    assert role_id
    console.post(f"/admin/roles/{role_id.group(1)}/delete", form_page="/admin/roles")
    assert key not in _all_pages(console, "/admin/roles")

    pkey = "read:" + _unique("reports")
    console.post(
        "/admin/permissions", {"name": "Read reports", "key": pkey}, form_page="/admin/permissions"
    )
    perms = _all_pages(console, "/admin/permissions")
    assert pkey in perms
    perm_id = re.search(
        r'action="/admin/permissions/([^/"]+)/delete"[^>]*data-confirm="[^"]*' + re.escape(pkey),
        perms,
    )
    assert perm_id
    console.post(f"/admin/permissions/{perm_id.group(1)}/delete", form_page="/admin/permissions")
    assert pkey not in _all_pages(console, "/admin/permissions")


def _jwks_kids(server: KindlingServer) -> list[str]:
    with server.client() as http:
        return [k["kid"] for k in http.get("/.well-known/jwks").json()["keys"]]


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _kid_in_state(page: str, state: str) -> str:
    """The kid of the (first) row of the keys page whose state badge reads ``state``."""
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        if f">{state}<" in row:
            found = re.search(r"<code>([0-9a-f]+)</code>", row)
            assert found
            return found.group(1)
    raise AssertionError(f"no key is {state}")


def test_signing_key_rotation_publishes_before_signing(
    console: Console, server: KindlingServer
) -> None:
    """Rotate publishes the new key at once and signs with it after the publish delay;
    Revoke takes a key out of the JWKS (here the waiting one, so other tests' tokens of
    this shared server keep working)."""
    before = server.token(scopes=["read:users"])
    old_kid = _kid(before)
    rotated = console.post("/admin/keys/rotate", {"publish_delay": "60"}, form_page="/admin/keys")
    assert "is published now and signs from" in console.follow(rotated).text
    page = console.get("/admin/keys").text
    kid = _kid_in_state(page, "next")
    assert kid != old_kid and kid in _jwks_kids(server)
    assert _kid_in_state(page, "active") == old_kid
    # Published, not signing: a token now is still signed with the old key.
    assert _kid(server.token(scopes=["read:users"])) == old_kid
    # A second rotation must wait for this one.
    refused = console.post(
        "/admin/keys/rotate",
        {"publish_delay": "1"},
        form_page="/admin/keys",
        headers={"Referer": console.origin + "/admin/keys"},
    )
    assert refused.headers["location"] == "/admin/keys"
    assert "already waiting to sign" in html.unescape(console.follow(refused).text)
    # Revoke the waiting key: it leaves the JWKS at once.
    assert f'action="/admin/keys/{kid}/revoke"' in page
    revoked = console.post(f"/admin/keys/{kid}/revoke", form_page="/admin/keys")
    assert f"Revoked the key {kid}" in console.follow(revoked).text
    assert kid not in _jwks_kids(server)
    assert _kid_in_state(console.get("/admin/keys").text, "revoked") == kid
    assert _kid(server.token(scopes=["read:users"])) == old_kid

    # A rotation with a one-second delay: after it, tokens carry the new kid.
    console.post("/admin/keys/rotate", {"publish_delay": "1"}, form_page="/admin/keys")
    new_kid = next(k for k in _jwks_kids(server) if k not in (old_kid, kid))
    deadline = time.monotonic() + 10
    after = server.token(scopes=["read:users"])
    while _kid(after) != new_kid:
        assert time.monotonic() < deadline, "the new key never started signing"
        time.sleep(0.2)
        after = server.token(scopes=["read:users"])
    assert old_kid in _jwks_kids(server)  # retired, still published
    with server.client() as http:
        for token in (before, after):  # the old token still verifies
            ok = http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200, ok.text
    page = console.get("/admin/keys").text
    assert _kid_in_state(page, "active") == new_kid
    assert _kid_in_state(page, "retired") == old_kid


def test_postman_downloads(console: Console, server: KindlingServer) -> None:
    collection = console.get("/admin/postman/collection.json")
    assert "attachment" in collection.headers["content-disposition"]
    data = collection.json()
    assert data["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert data["auth"]["type"] == "oauth2"
    environment = console.get("/admin/postman/environment.json").json()
    values = {v["key"]: v["value"] for v in environment["values"]}
    assert values["business_domain"] == server.issuer
    assert set(values) == {"business_domain", "client_id", "client_secret"}
    with httpx.Client(base_url=server.base_url, follow_redirects=False) as anonymous:
        assert anonymous.get("/admin/postman/collection.json").status_code == 303


def test_unknown_console_pages_are_html_404s(console: Console) -> None:
    missing = console.get("/admin/no-such-page", expect=404)
    assert missing.headers["content-type"].startswith("text/html")
    # The Management API keeps its JSON 404s.
    with httpx.Client(base_url=console.server.base_url) as http:
        assert http.get("/api/v1/nope").json()["errors"]["code"] == "ROUTE_NOT_FOUND"


# --- sessions in-process: expiry and the throttle window, with a frozen clock ---------


def test_sessions_expire_when_idle_or_old(tmp_path: Path) -> None:
    clock = FrozenClock(1_800_000_000)
    ctx = build_context(Settings(data_dir=tmp_path), clock=clock)
    try:
        admin.set_password(ctx.storage, clock, "a long enough password")
        token, session = admin.sign_in(
            ctx.storage, clock, "ADMIN ", "a long enough password", "10.0.0.1"
        )
        assert session.username == "admin"
        assert admin.load_session(ctx.storage, clock, token) is not None
        clock.advance(admin.SESSION_IDLE_TIMEOUT - 10)
        assert admin.load_session(ctx.storage, clock, token) is not None  # activity resets idle
        clock.advance(admin.SESSION_IDLE_TIMEOUT - 10)
        assert admin.load_session(ctx.storage, clock, token) is not None
        clock.advance(admin.SESSION_IDLE_TIMEOUT + 1)
        assert admin.load_session(ctx.storage, clock, token) is None  # idle too long
        token, _ = admin.sign_in(ctx.storage, clock, "admin", "a long enough password", "1.2.3.4")
        for _ in range(admin.SESSION_LIFETIME // 3600):
            clock.advance(3600)
            admin.load_session(ctx.storage, clock, token)
        assert admin.load_session(ctx.storage, clock, token) is None  # absolute lifetime
        assert admin.load_session(ctx.storage, clock, "forged") is None
        assert admin.load_session(ctx.storage, clock, None) is None
        with ctx.storage.read() as uow:
            stored = uow[ADMIN_REPO].get_account("admin")
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
    finally:
        ctx.close()


def test_throttle_window_moves_on(tmp_path: Path) -> None:
    clock = FrozenClock(1_800_000_000)
    ctx = build_context(Settings(data_dir=tmp_path), clock=clock)
    try:
        admin.set_password(ctx.storage, clock, "a long enough password")
        for _ in range(admin.THROTTLE_MAX):
            with pytest.raises(admin.SignInFailed):
                admin.sign_in(ctx.storage, clock, "admin", "wrong password!", "10.0.0.2")
            clock.advance(10)
        with pytest.raises(admin.SignInThrottled):
            admin.sign_in(ctx.storage, clock, "admin", "a long enough password", "10.0.0.2")
        # Another address is not throttled.
        admin.sign_in(ctx.storage, clock, "admin", "a long enough password", "10.0.0.3")
        clock.advance(admin.THROTTLE_WINDOW)
        admin.sign_in(ctx.storage, clock, "admin", "a long enough password", "10.0.0.2")
    finally:
        ctx.close()


def test_first_run_creates_one_owner_only(tmp_path: Path) -> None:
    from kindling.bootstrap import bootstrap

    ctx = build_context(Settings(data_dir=tmp_path))
    try:
        first = bootstrap(ctx, "http://localhost:9")
        assert first.admin_password
        again = bootstrap(ctx, "http://localhost:9")
        assert again.admin_password is None
        admin.sign_in(ctx.storage, ctx.clock, "admin", first.admin_password, "127.0.0.1")
    finally:
        ctx.close()


def test_console_owns_no_secret_in_storage(tmp_path: Path) -> None:
    """Session rows hold a hash of the cookie, never the cookie itself."""
    ctx = build_context(Settings(data_dir=tmp_path))
    try:
        admin.set_password(ctx.storage, ctx.clock, "a long enough password")
        token, session = admin.sign_in(
            ctx.storage, ctx.clock, "admin", "a long enough password", "127.0.0.1"
        )
        with ctx.storage.engine.session(write=False) as db:
            dump = json.dumps([dict(r) for r in db.all("SELECT * FROM admin_sessions")])
        assert token not in dump and session.token_hash in dump
    finally:
        ctx.close()
