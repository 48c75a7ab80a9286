"""Conformance builders of the ``webhooks`` resource: webhooks, event types and events.

Webhooks made here point at a closed loopback port and subscribe to ``webhook.updated``
only, so the servers' deliverers have next to nothing to send for the rest of the walk.
The id of an event is not something the API hands out (receivers get it in the
payload), so ``GetEvent`` reads the id of a ``webhook.created`` event from the server's
outbox with portable SQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conformance.framework import Req, World, builder, has_item, uid


def webhook(w: World) -> tuple[str, str]:
    """A fresh webhook: (id, name)."""
    name = f"conf-webhook-{uid()}"
    body = w.ok(
        "CreateWebHook",
        Req(
            "/webhooks",
            json={
                "endpoint": f"http://127.0.0.1:9/conformance/{uid()}",
                "event_types": ["webhook.updated"],
                "name": name,
            },
        ),
        "create a webhook",
    )
    return str(body["webhook"]["id"]), name


def created_event(w: World, webhook_id: str) -> str:
    """The id of the ``webhook.created`` event of ``webhook_id``, from the outbox."""
    from kindling.platform.engine import Engine, PostgresEngine, SqliteEngine
    from kindling.platform.storage import SQLITE_FILE

    engine: Engine
    if w.server.database_url:
        engine = PostgresEngine(w.server.database_url)
    else:
        engine = SqliteEngine(Path(w.server.data_dir) / SQLITE_FILE)
    try:
        with engine.session(write=False) as session:
            rows = session.all(
                "SELECT event_id, data FROM outbox WHERE type = ? ORDER BY seq DESC LIMIT 100",
                ("webhook.created",),
            )
    finally:
        engine.close()
    for row in rows:
        if json.loads(row["data"])["webhook"]["id"] == webhook_id:
            return str(row["event_id"])
    raise AssertionError(f"no webhook.created event for {webhook_id} in the outbox")


@builder("GetWebHooks")
def _get_web_hooks(w: World) -> Req:
    webhook_id, _ = w.once(("webhooks", "listed webhook"), lambda: webhook(w))
    return Req("/webhooks", check=has_item("webhooks", webhook_id))


@builder("CreateWebHook")
def _create_web_hook(w: World) -> Req:
    endpoint = f"https://localhost:9/conformance/{uid()}"

    def check(body: Any) -> None:
        assert body["webhook"]["id"].startswith("webhook_"), body
        assert body["webhook"]["endpoint"] == endpoint, body

    return Req(
        "/webhooks",
        json={
            "endpoint": endpoint,
            "event_types": ["webhook.updated"],
            "name": f"conf-{uid()}",
            "description": "conformance",
        },
        check=check,
    )


@builder("UpdateWebHook")
def _update_web_hook(w: World) -> Req:
    webhook_id, name = webhook(w)

    def check(body: Any) -> None:
        assert body["webhook"] == {"id": webhook_id}, body

    return Req(
        f"/webhooks/{webhook_id}",
        json={"name": f"{name}-renamed", "event_types": ["webhook.deleted"], "description": "r"},
        check=check,
    )


@builder("DeleteWebHook")
def _delete_web_hook(w: World) -> Req:
    return Req(f"/webhooks/{webhook(w)[0]}")


@builder("GetEventTypes")
def _get_event_types(w: World) -> Req:
    def check(body: Any) -> None:
        codes = [t["code"] for t in body["event_types"]]
        assert "user.created" in codes and "webhook.created" in codes, codes[:5]

    return Req("/event_types", check=check)


@builder("GetEvent")
def _get_event(w: World) -> Req:
    webhook_id, _ = webhook(w)
    event_id = created_event(w, webhook_id)

    def check(body: Any) -> None:
        event = body["event"]
        assert (event["event_id"], event["type"]) == (event_id, "webhook.created"), body
        assert event["data"]["webhook"]["id"] == webhook_id, body
        assert isinstance(event["timestamp"], int), body

    return Req(f"/events/{event_id}", check=check)
