"""Conformance builders of the ``apis`` resource: APIs, their scopes, and the
applications authorized for them (with their API scopes)."""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder, has_item, uid


def authorize(w: World, api_id: str, app_id: str) -> None:
    w.ok(
        "updateAPIApplications",
        Req(f"/apis/{api_id}/applications", json={"applications": [{"id": app_id}]}),
        "authorize an application for an API",
    )


@builder("getAPIs")
def _get_apis(w: World) -> Req:
    return Req("/apis", params={"expand": "scopes"})


@builder("addAPIs")
def _add_apis(w: World) -> Req:
    return Req("/apis", json={"name": f"conf-{uid()}", "audience": f"urn:conf:{uid()}"})


@builder("getAPI")
def _get_api(w: World) -> Req:
    api_id = w.api()

    def check(body: Any) -> None:
        assert body["api"]["id"] == api_id, body

    return Req(f"/apis/{api_id}", check=check)


@builder("addAPIScope")
def _add_api_scope(w: World) -> Req:
    return Req(f"/apis/{w.api()}/scopes", json={"key": f"read:conf{uid()}", "description": "d"})


@builder("updateAPIApplications")
def _update_api_applications(w: World) -> Req:
    app_id = w.app("m2m")

    def check(body: Any) -> None:
        assert body["applications_connected"] == [app_id], body

    return Req(
        f"/apis/{w.api()}/applications", json={"applications": [{"id": app_id}]}, check=check
    )


def _api_app_scope(w: World) -> str:
    api_id = w.api()
    scope_id = w.api_scope(api_id)
    app_id = w.app("m2m")
    authorize(w, api_id, app_id)
    return f"/apis/{api_id}/applications/{app_id}/scopes/{scope_id}"


@builder("addAPIApplicationScope")
def _add_api_application_scope(w: World) -> Req:
    return Req(_api_app_scope(w))


@builder("deleteAPIApplicationScope")
def _delete_api_application_scope(w: World) -> Req:
    path = _api_app_scope(w)
    w.ok("addAPIApplicationScope", Req(path), "grant an application an API scope")
    return Req(path)


@builder("deleteAPI")
def _delete_api(w: World) -> Req:
    return Req(f"/apis/{w.api()}")


@builder("getAPIScopes")
def _get_api_scopes(w: World) -> Req:
    api_id = w.api()
    scope_id = w.api_scope(api_id)
    return Req(f"/apis/{api_id}/scopes", check=has_item("scopes", scope_id))


@builder("getAPIScope")
def _get_api_scope(w: World) -> Req:
    api_id = w.api()
    scope_id = w.api_scope(api_id)

    def check(body: Any) -> None:
        assert body["scope"]["id"] == scope_id, body

    return Req(f"/apis/{api_id}/scopes/{scope_id}", check=check)


@builder("updateAPIScope")
def _update_api_scope(w: World) -> Req:
    api_id = w.api()
    return Req(f"/apis/{api_id}/scopes/{w.api_scope(api_id)}", json={"description": "renamed"})


@builder("deleteAPIScope")
def _delete_api_scope(w: World) -> Req:
    api_id = w.api()
    return Req(f"/apis/{api_id}/scopes/{w.api_scope(api_id)}")
