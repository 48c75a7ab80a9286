"""Helpers for the admin console tests: sign in over HTTP, post forms with the CSRF token."""

from __future__ import annotations

import html
import re
import ssl
import subprocess
import sys

import httpx

from tests.support import KindlingServer

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = re.compile(r"^  password: (\S+)$", re.MULTILINE)


def owner_password(server: KindlingServer) -> str:
    """The owner's password as the first run's banner printed it."""
    found = PASSWORD.search(server.output)
    assert found, f"no admin password in the banner:\n{server.output}"
    return found.group(1)


def set_password(server: KindlingServer, username: str, password: str) -> None:
    """``kindling admin set-password --password-stdin`` on the server's data."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kindling",
            "admin",
            "set-password",
            "--username",
            username,
            "--password-stdin",
        ],
        env=server.env(),
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no CSRF token in the page"
    return html.unescape(found.group(1))


class Console:
    """A browser-like HTTP client of one server's console (cookies, Origin, CSRF)."""

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        verify: ssl.SSLContext | bool = True
        if server.ca_path:
            verify = ssl.create_default_context(cafile=server.ca_path)
        self.http = httpx.Client(
            base_url=server.base_url, verify=verify, timeout=30, follow_redirects=False
        )
        self.origin = server.base_url

    def close(self) -> None:
        self.http.close()

    def login_response(self, password: str, username: str = "admin") -> httpx.Response:
        page = self.http.get("/admin/login")
        assert page.status_code == 200, page.text
        return self.http.post(
            "/admin/login",
            data={
                "csrf_token": csrf_of(page.text),
                "username": username,
                "password": password,
                "next": "/admin/applications",
            },
            headers={"Origin": self.origin},
        )

    def login(self, password: str, username: str = "admin") -> Console:
        response = self.login_response(password, username)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/admin/applications"
        return self

    def get(self, path: str, expect: int = 200) -> httpx.Response:
        response = self.http.get(path)
        assert response.status_code == expect, (path, response.status_code, response.text[:2000])
        return response

    def post(
        self,
        path: str,
        data: dict[str, str | list[str]] | None = None,
        expect: int = 303,
        form_page: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Post a form with the CSRF token of ``form_page`` (default: the path itself)."""
        page = self.get(form_page or "/admin/applications").text
        fields: dict[str, str | list[str]] = {"csrf_token": csrf_of(page), **(data or {})}
        sent = {"Origin": self.origin, **(headers or {})}
        response = self.http.post(path, data=fields, headers=sent)
        assert response.status_code == expect, (path, response.status_code, response.text[:2000])
        return response

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, response.text
        return self.get(response.headers["location"])
