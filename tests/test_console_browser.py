"""The admin console and the API docs in a real browser (Playwright driving Debian's chromium).

The main flow is Kinde's "Method 1" for a Management API token: sign in, create an M2M
application, authorize the Management API with two scopes, Test → Get token, then
"Use test token", which opens the interactive docs with the bearer filled in; there
``GET /api/v1/users`` succeeds and an operation outside the two scopes gets 403.

Every main page is screenshotted. The PNGs go to ``$KINDLING_SCREENSHOT_DIR`` when it is
set (``KINDLING_SCREENSHOT_DIR=docs scripts/test tests/test_console_browser.py`` refreshes
the README's pictures), else to a temporary directory, so a test run leaves the tree clean.
No browser is downloaded: chromium comes from Debian (``apt-get install chromium``).
"""

from __future__ import annotations

import os
import re
import struct
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.console_support import owner_password
from tests.support import KindlingServer, free_port

#: Run first (tests/conftest.py): about 8 s per test on a quiet machine.
pytestmark = pytest.mark.long(8)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1280, "height": 860}

UNLABELLED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("KINDLING_SCREENSHOT_DIR")
    if configured:
        path = Path(configured)
        path = path if path.is_absolute() else REPO / path
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def kindling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindlingServer]:
    """A fresh server of our own, so the pictures show a clean environment."""
    server = KindlingServer(data_dir=tmp_path_factory.mktemp("browser"), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watched:
    """A browser context that records console errors and page errors (CSP violations too)."""

    def __init__(self, browser: Browser, **options: Any) -> None:
        self.context: BrowserContext = browser.new_context(viewport=VIEWPORT, **options)
        self.context.grant_permissions(["clipboard-read", "clipboard-write"])
        self.errors: list[str] = []
        self.context.on("page", self._watch)

    def _watch(self, page: Page) -> None:
        page.on(
            "console",
            lambda m: self.errors.append(f"{page.url}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))

    def new_page(self) -> Page:
        return self.context.new_page()

    def close(self) -> None:
        self.context.close()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def shot(page: Page, shots: Path, name: str, full_page: bool = False) -> None:
    target = shots / name
    page.screenshot(path=str(target), full_page=full_page)
    width, height = _png_size(target)
    assert width >= 360 and height >= 300, (name, width, height)


def sign_in(page: Page, server: KindlingServer, shots: Path | None = None) -> None:
    page.goto(f"{server.base_url}/admin/")
    page.wait_for_url(re.compile(r"/admin/login\?next="))
    if shots is not None:
        shot(page, shots, "console-login.png")
    # By keyboard: the username is focused and filled; Tab to the password, Enter submits.
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.type(owner_password(server))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.base_url}/admin/applications")


def check_page(page: Page) -> None:
    """Every visible field has a label; nothing needs horizontal scrolling."""
    assert page.evaluate(UNLABELLED) == [], page.url
    assert page.evaluate(OVERFLOW) <= 0, page.url


def run_operation(docs: Page, op: str) -> str:
    """Try it out → Execute in Swagger UI; return the live response's status code."""
    block = docs.locator(f"#{op}")
    block.locator(".opblock-summary").first.click()
    block.locator(".try-out__btn").click()
    block.locator(".execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=20_000)
    return status.inner_text().strip()


def test_get_token_then_use_it_in_the_api_docs(
    browser: Browser, kindling: KindlingServer, shots: Path
) -> None:
    watched = Watched(browser)
    try:
        page = watched.new_page()
        sign_in(page, kindling, shots)
        check_page(page)

        # Create an M2M application: its secret is shown once, with copy buttons.
        page.fill("#app-name", "Reporting service")
        page.get_by_role("button", name="Create application").click()
        secret = page.locator("#client-secret")
        secret.wait_for()
        client_id = page.input_value("#client-id")
        assert re.fullmatch(r"[0-9a-f]{32}", client_id)
        assert len(page.input_value("#client-secret")) >= 32
        assert page.input_value("#domain") == kindling.domain
        page.wait_for_url(f"{kindling.base_url}/admin/applications/{client_id}")
        expect(page.locator("#client-secret")).to_be_focused()
        page.locator("button[data-copy='client-id']").click()
        expect(page.locator("button[data-copy='client-id']")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == client_id
        check_page(page)
        shot(page, shots, "console-application-keys.png")

        # Authorize the Management API with two scopes (the filter narrows the list).
        page.get_by_role("link", name="APIs", exact=True).last.click()
        page.wait_for_url(f"**/admin/applications/{client_id}/apis")
        card = page.locator("section.api-access").first
        card.locator("input[type=search]").fill("read:users")
        assert card.locator(".scope:not([hidden])").count() < 10
        card.locator("input[value='read:users']").check()
        card.locator("input[type=search]").fill("")
        card.locator("input[value='read:roles']").check()
        card.get_by_role("button", name="Authorize").click()
        page.get_by_text("Authorized the application for the API.").wait_for()
        assert card.locator("input[name=scope]:checked").count() == 2
        page.evaluate("window.scrollTo(0, 0)")
        check_page(page)
        shot(page, shots, "console-application-apis.png")

        # Test → Get token.
        page.get_by_role("link", name="Test", exact=True).last.click()
        page.wait_for_url(f"**/admin/test?app={client_id}")
        page.get_by_role("button", name="Get token").click()
        page.locator("#access-token").wait_for()
        token = page.input_value("#access-token").strip()
        assert token.count(".") == 2
        claims = page.inner_text("#token-claims")
        assert '"scope": "read:roles read:users"' in claims
        assert f'"azp": "{client_id}"' in claims
        assert '"alg": "RS256"' in page.inner_text("#token-header")
        for snippet in ("curl", "python", "javascript", "token"):
            assert page.locator(f"#snippet-{snippet}").is_visible()
        assert "kinde_sdk.management" in page.inner_text("#snippet-python")
        check_page(page)
        shot(page, shots, "console-test-token.png", full_page=True)

        # Use test token: the docs open in a new tab with the bearer filled in.
        with watched.context.expect_page() as opened:
            page.get_by_role("link", name="Use test token").click()
        docs = opened.value
        banner = docs.locator("#token-banner")
        banner.wait_for()
        assert "read:roles read:users" in banner.inner_text()
        assert docs.url == f"{kindling.base_url}/api/docs"  # the fragment is gone at once
        docs.locator("#operations-Users-getUsers").wait_for()
        expect(docs.locator(".btn.authorize.locked")).to_have_count(1)  # shown as authorized
        shot(docs, shots, "api-docs-test-token.png")

        with docs.expect_request(re.compile(r"/api/v1/users$")) as sent:
            status = run_operation(docs, "operations-Users-getUsers")
        assert status == "200"
        request = sent.value
        assert request.headers["authorization"] == f"Bearer {token}"
        assert "token" not in request.url
        live = docs.locator("#operations-Users-getUsers .live-responses-table tbody")
        assert '"code": "OK"' in live.first.inner_text()
        docs.locator("#operations-Users-getUsers").scroll_into_view_if_needed()
        shot(docs, shots, "api-docs-try-it-out.png")

        # Outside the two scopes: 403.
        assert run_operation(docs, "operations-Organizations-getOrganizations") == "403"
        assert run_operation(docs, "operations-Roles-GetRoles") == "200"
        # The browser logs the expected 403; nothing else went wrong (no CSP violation).
        assert [e for e in watched.errors if "status of 403" not in e] == []
    finally:
        watched.close()


def test_swagger_client_credentials_flow_sends_the_audience(
    browser: Browser, kindling: KindlingServer
) -> None:
    """Swagger UI's own OAuth 2.0 dialog gets a token too (audience added to the body)."""
    watched = Watched(browser)
    try:
        docs = watched.new_page()
        docs.goto(f"{kindling.base_url}/api/docs")
        docs.locator(".btn.authorize").first.click()
        dialog = docs.locator(".modal-ux")
        oauth = dialog.locator(".auth-container").filter(has_text="kindeOAuth")
        oauth.locator("input#client_id").fill(kindling.client_id)
        oauth.locator("input#client_secret").fill(kindling.client_secret)
        oauth.locator("label[for='read:users-clientCredentials-checkbox-kindeOAuth']").click()
        assert oauth.locator("input[data-value='read:users']").is_checked()
        with docs.expect_response(re.compile(r"/oauth2/token$")) as answer:
            oauth.get_by_role("button", name="Authorize").click()
        assert answer.value.status == 200
        assert "audience=" in (answer.value.request.post_data or "")
        dialog.get_by_role("button", name="Close").first.click()
        assert run_operation(docs, "operations-Users-getUsers") == "200"
        assert watched.errors == []
    finally:
        watched.close()


class _AttackerSite(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        body = (
            "<!doctype html><title>Win a prize</title>"
            f'<form id="f" method="post" action="{self.target}">'
            '<input name="name" value="planted-by-attacker"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_cross_site_form_post_is_refused(browser: Browser, kindling: KindlingServer) -> None:
    watched = Watched(browser)
    _AttackerSite.target = f"{kindling.base_url}/admin/applications"
    attacker = ThreadingHTTPServer(("127.0.0.1", free_port()), _AttackerSite)
    thread = threading.Thread(target=attacker.serve_forever, daemon=True)
    thread.start()
    try:
        page = watched.new_page()
        sign_in(page, kindling)
        # The signed-in browser visits another site that auto-posts a form to the console.
        page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
        page.wait_for_url(re.compile(r"localhost:\d+/admin/"))
        page.wait_for_load_state()
        assert "planted-by-attacker" not in page.content()
        # With the session cookie forced along, the Origin check still refuses it.
        forced = watched.context.request.post(
            f"{kindling.base_url}/admin/applications",
            form={"name": "planted-by-attacker"},
            headers={"Origin": f"http://127.0.0.1:{attacker.server_address[1]}"},
        )
        assert forced.status == 403
        page.goto(f"{kindling.base_url}/admin/applications")
        assert "planted-by-attacker" not in page.content()
        assert page.url == f"{kindling.base_url}/admin/applications"  # still signed in
    finally:
        attacker.shutdown()
        watched.close()


def test_sign_out_and_redirects(browser: Browser, kindling: KindlingServer) -> None:
    watched = Watched(browser)
    try:
        page = watched.new_page()
        sign_in(page, kindling)
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/admin/login?signed_out=1")
        assert "You have signed out." in page.inner_text("main")
        page.goto(f"{kindling.base_url}/admin/keys")
        page.wait_for_url(re.compile(r"/admin/login\?next=/admin/keys"))
        page.go_back()
        assert "/admin/login" in page.url or "Signing keys" not in page.content()
        # Signing in again goes where the user was headed.
        page.goto(f"{kindling.base_url}/admin/keys")
        page.wait_for_url(re.compile(r"/admin/login\?next=/admin/keys"))
        expect(page.locator("#username")).to_be_focused()
        page.keyboard.press("Tab")
        page.keyboard.type(owner_password(kindling))
        page.keyboard.press("Enter")
        page.wait_for_url(f"{kindling.base_url}/admin/keys")
        assert watched.errors == []
    finally:
        watched.close()


def test_main_pages_render_and_are_accessible(
    browser: Browser, kindling: KindlingServer, shots: Path
) -> None:
    watched = Watched(browser)
    try:
        page = watched.new_page()
        sign_in(page, kindling)
        suffix = uuid.uuid4().hex[:4]

        def submit(path: str, fields: dict[str, str], button: str) -> None:
            page.goto(f"{kindling.base_url}{path}")
            for selector, value in fields.items():
                page.fill(selector, value)
            page.get_by_role("button", name=button).click()
            page.wait_for_load_state()
            assert page.locator(".flash-error").count() == 0, page.inner_text("main")

        submit("/admin/applications", {"#app-name": "Billing worker"}, "Create application")
        submit(
            "/admin/apis",
            {"#api-name": "Orders API", "#api-audience": f"https://orders-{suffix}.example.com"},
            "Register API",
        )
        submit(
            "/admin/apis",
            {"#api-name": "Reports API", "#api-audience": f"https://reports-{suffix}.example.com"},
            "Register API",
        )
        for key in ("read:orders", "write:orders"):
            page.goto(f"{kindling.base_url}/admin/apis")
            page.get_by_role("link", name="Orders API").click()
            page.fill("#scope-key", key)
            page.get_by_role("button", name="Add scope").click()
            page.get_by_text(f"Added the scope {key}.").wait_for()
        for first, last in (("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing")):
            submit(
                "/admin/users",
                {
                    "#new-email": f"{first.lower()}.{suffix}@example.com",
                    "#new-given": first,
                    "#new-family": last,
                },
                "Create user",
            )
        submit("/admin/organizations", {"#org-name": "Analytical Engines"}, "Create organization")
        page.fill("#member-user", f"ada.{suffix}@example.com")
        page.get_by_role("button", name="Add member").click()
        page.get_by_text("Added the member.").wait_for()
        organization_url = page.url
        for name, key in (("Administrator", f"admin_{suffix}"), ("Viewer", f"viewer_{suffix}")):
            submit("/admin/roles", {"#role-name": name, "#role-key": key}, "Create role")
        for name, key in (
            ("Read reports", f"read:reports_{suffix}"),
            ("Export data", f"export:data_{suffix}"),
        ):
            submit(
                "/admin/permissions",
                {"#permission-name": name, "#permission-key": key},
                "Create permission",
            )
        page.goto(f"{kindling.base_url}/admin/keys")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Rotate signing key").click()
        page.get_by_text("is published now and signs from").wait_for()

        pictures = {
            "/admin/applications": "console-applications.png",
            "/admin/apis": "console-apis.png",
            "/admin/users": "console-users.png",
            "/admin/organizations": "console-organizations.png",
            "/admin/roles": "console-roles.png",
            "/admin/permissions": "console-permissions.png",
            "/admin/keys": "console-signing-keys.png",
            "/admin/postman": "console-postman.png",
        }
        for path, name in pictures.items():
            page.goto(f"{kindling.base_url}{path}")
            assert page.locator("nav.sidebar a[aria-current=page]").count() == 1
            check_page(page)
            shot(page, shots, name)
        page.goto(organization_url)
        assert f"ada.{suffix}@example.com" in page.inner_text("main")
        check_page(page)
        shot(page, shots, "console-organization-members.png")

        # Postman downloads from the console.
        page.goto(f"{kindling.base_url}/admin/postman")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download collection").click()
        assert download.value.suggested_filename == "kindling.postman_collection.json"

        # Keyboard: the skip link is the first stop and moves focus to the content.
        page.goto(f"{kindling.base_url}/admin/users")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        assert watched.errors == []
    finally:
        watched.close()


def test_small_screens(browser: Browser, kindling: KindlingServer, shots: Path) -> None:
    watched = Watched(browser, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        page = watched.new_page()
        page.set_viewport_size({"width": 390, "height": 844})
        sign_in(page, kindling)
        for path in ("/admin/applications", "/admin/test", "/admin/users", "/admin/apis"):
            page.goto(f"{kindling.base_url}{path}")
            check_page(page)
        page.goto(f"{kindling.base_url}/admin/applications")
        shot(page, shots, "console-mobile.png")
        assert watched.errors == []
    finally:
        watched.close()
