"""Conformance builders of the ``api_keys`` resource."""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder, uid


def _new_api_key(w: World) -> tuple[str, str]:
    """A fresh environment API key for a fresh API with one scope: (key id, key)."""
    api_id = w.api()
    body = w.ok(
        "createApiKey",
        Req(
            "/api_keys",
            json={
                "name": f"conf-key-{uid()}",
                "api_id": api_id,
                "type": "environment",
                "scope_ids": [w.api_scope(api_id)],
            },
        ),
        "create an API key",
    )
    return str(body["api_key"]["id"]), str(body["api_key"]["key"])


@builder("getApiKeys")
def _get_api_keys(w: World) -> Req:
    if w.has("createApiKey"):
        _new_api_key(w)
    return Req("/api_keys", params={"page_size": 5})


@builder("createApiKey")
def _create_api_key(w: World) -> Req:
    api_id = w.api()

    def check(body: Any) -> None:
        assert body["api_key"]["id"] and body["api_key"]["key"], body

    return Req(
        "/api_keys",
        json={
            "name": f"conf-key-{uid()}",
            "api_id": api_id,
            "type": "environment",
            "scope_ids": [w.api_scope(api_id)],
        },
        check=check,
    )


@builder("getApiKey")
def _get_api_key(w: World) -> Req:
    return Req(f"/api_keys/{_new_api_key(w)[0]}")


@builder("rotateApiKey")
def _rotate_api_key(w: World) -> Req:
    key_id, key = _new_api_key(w)

    def check(body: Any) -> None:
        assert body["api_key"]["key"] and body["api_key"]["key"] != key, body

    return Req(f"/api_keys/{key_id}", check=check)


@builder("deleteApiKey")
def _delete_api_key(w: World) -> Req:
    return Req(f"/api_keys/{_new_api_key(w)[0]}")


@builder("verifyApiKey")
def _verify_api_key(w: World) -> Req:
    key_id, key = _new_api_key(w)

    def check(body: Any) -> None:
        assert (body["is_valid"], body["key_id"]) == (True, key_id), body

    return Req("/api_keys/verify", json={"api_key": key}, check=check)
