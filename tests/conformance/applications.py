"""Conformance builders of the ``applications`` resource: applications, their tokens,
access roles and connections, and their callbacks (redirect and logout URLs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conformance.framework import Req, World, builder, uid


@builder("getApplications")
def _get_applications(w: World) -> Req:
    return Req("/applications", params={"page_size": 5, "sort": "name_asc"})


@builder("createApplication")
def _create_application(w: World) -> Req:
    def check(body: Any) -> None:
        app = body["application"]
        assert app["id"] and app["client_id"] and app["client_secret"], body

    return Req("/applications", json={"name": f"conf-app-{uid()}", "type": "reg"}, check=check)


@builder("getApplication")
def _get_application(w: World) -> Req:
    app_id = w.app()

    def check(body: Any) -> None:
        assert body["application"]["id"] == app_id, body

    return Req(f"/applications/{app_id}", check=check)


@builder("updateApplication")
def _update_application(w: World) -> Req:
    return Req(
        f"/applications/{w.app()}",
        json={
            "name": f"renamed-{uid()}",
            "login_uri": "https://app.example.com/login",
            "homepage_uri": "https://app.example.com",
            "redirect_uris": ["https://app.example.com/callback"],
            "logout_uris": ["https://app.example.com"],
            "is_ask_for_name": True,
        },
    )


@builder("deleteApplication")
def _delete_application(w: World) -> Req:
    return Req(f"/applications/{w.app()}")


@builder("updateApplicationTokens")
def _update_application_tokens(w: World) -> Req:
    return Req(
        f"/applications/{w.app()}/tokens",
        json={"access_token_lifetime": 3600, "id_token_lifetime": 3600},
    )


@builder("GetApplicationAccessRoles")
def _get_application_access_roles(w: World) -> Req:
    return Req(f"/applications/{w.app()}/access_roles", params={"page_size": 5})


@builder("AddApplicationAccessRole")
def _add_application_access_role(w: World) -> Req:
    return Req(f"/applications/{w.app()}/access_roles/{w.role()[0]}")


@builder("RemoveApplicationAccessRole")
def _remove_application_access_role(w: World) -> Req:
    path = f"/applications/{w.app()}/access_roles/{w.role()[0]}"
    w.ok("AddApplicationAccessRole", Req(path), "give a role access to an application")
    return Req(path)


@builder("GetApplicationConnections")
def _get_application_connections(w: World) -> Req:
    return Req(f"/applications/{w.app()}/connections")


@builder("EnableConnection")
def _enable_connection(w: World) -> Req:
    return Req(f"/applications/{w.app()}/connections/{w.connection()}")


@builder("RemoveConnection")
def _remove_connection(w: World) -> Req:
    path = f"/applications/{w.app()}/connections/{w.connection()}"
    w.ok("EnableConnection", Req(path), "enable a connection for an application")
    return Req(path)


_URL_KINDS = {"redirect": "auth_redirect_urls", "logout": "auth_logout_urls"}


_URL_ADD = {"redirect": "addRedirectCallbackURLs", "logout": "addLogoutRedirectURLs"}


def _app_urls(w: World, kind: str, add: bool = True) -> tuple[str, str]:
    """An application (with one URL of ``kind`` registered when ``add``): (path, url)."""
    path = f"/applications/{w.app()}/{_URL_KINDS[kind]}"
    url = f"https://conf-{uid()}.example.com/{kind}"
    if add:
        w.ok(_URL_ADD[kind], Req(path, json={"urls": [url]}), f"register a {kind} URL")
    return path, url


def _urls_check(url: str, present: bool = True) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        urls = body.get("redirect_urls") or body.get("logout_urls") or []
        assert (url in urls) is present, (url, body)

    return check


for _kind, _op_ids in (
    ("redirect", ("getCallbackURLs", "addRedirectCallbackURLs", "replaceRedirectCallbackURLs")),
    ("logout", ("getLogoutURLs", "addLogoutRedirectURLs", "replaceLogoutRedirectURLs")),
):
    _get, _add, _replace = _op_ids

    @builder(_get)
    def _get_urls(w: World, kind: str = _kind) -> Req:
        path, url = _app_urls(w, kind)
        return Req(path, check=_urls_check(url))

    @builder(_add)
    def _add_urls(w: World, kind: str = _kind) -> Req:
        path, url = _app_urls(w, kind, add=False)
        return Req(path, json={"urls": [url]})

    @builder(_replace)
    def _replace_urls(w: World, kind: str = _kind) -> Req:
        path, _ = _app_urls(w, kind)
        return Req(path, json={"urls": [f"https://conf-{uid()}.example.com/{kind}"]})


@builder("deleteCallbackURLs")
def _delete_callback_urls(w: World) -> Req:
    path, url = _app_urls(w, "redirect")
    return Req(path, params={"urls": url})


@builder("deleteLogoutURLs")
def _delete_logout_urls(w: World) -> Req:
    path, url = _app_urls(w, "logout")
    return Req(path, params={"urls": url})
