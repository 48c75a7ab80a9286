"""The official Python SDK drives all six Webhooks operations over TLS.

``create_web_hook``, ``get_web_hooks``, ``update_web_hook``, ``get_event_types``,
``get_event`` and ``delete_web_hook``, each checked for a typed, non-None result (the
SDK returns None when the status is not the spec's and raises on a wrongly typed
field). The event read back is a real one: the webhook subscribes to its own
``webhook.created`` and a receiver on 127.0.0.1 gets it from the background deliverer,
``event_id`` and all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException
from kinde_sdk.management.models import (
    CreateWebHookRequest,
    CreateWebhookResponse,
    DeleteWebhookResponse,
    EventType,
    GetEventResponse,
    GetEventTypesResponse,
    GetWebhooksResponse,
    UpdateWebHookRequest,
    UpdateWebhookResponse,
    Webhook,
)

from tests.webhook_receiver import Receiver, claims


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def listed(client: ManagementClient, webhook_id: str) -> Webhook | None:
    page = client.webhooks_api.get_web_hooks()
    assert isinstance(page, GetWebhooksResponse)
    return next((w for w in page.webhooks or [] if w.id == webhook_id), None)


def test_every_webhooks_operation_through_the_python_sdk(
    client: ManagementClient, receiver: Receiver
) -> None:
    name = f"py-sdk-{uuid.uuid4().hex[:10]}"
    created = client.webhooks_api.create_web_hook(
        CreateWebHookRequest(
            endpoint=receiver.url,
            event_types=["webhook.created", "webhook.updated"],
            name=name,
            description="Python SDK",
        )
    )
    assert isinstance(created, CreateWebhookResponse)
    assert created.webhook is not None and created.webhook.endpoint == receiver.url
    webhook_id = created.webhook.id
    assert webhook_id is not None and re.fullmatch(r"webhook_[0-9a-f]{32}", webhook_id)

    found = listed(client, webhook_id)
    assert found is not None
    assert (found.name, found.endpoint, found.description) == (name, receiver.url, "Python SDK")
    assert found.event_types == ["webhook.created", "webhook.updated"]
    assert found.created_on is not None

    updated = client.webhooks_api.update_web_hook(
        webhook_id, UpdateWebHookRequest(name=f"{name}-renamed", event_types=["webhook.created"])
    )
    assert isinstance(updated, UpdateWebhookResponse)
    assert updated.webhook is not None and updated.webhook.id == webhook_id
    renamed = listed(client, webhook_id)
    assert renamed is not None and renamed.name == f"{name}-renamed"
    assert renamed.event_types == ["webhook.created"] and renamed.description == "Python SDK"

    types = client.webhooks_api.get_event_types()
    assert isinstance(types, GetEventTypesResponse) and types.event_types
    by_code: dict[str, EventType] = {t.code: t for t in types.event_types if t.code}
    assert by_code["user.created"].origin == "kinde"
    assert by_code["webhook.created"].origin == "kindling"
    assert by_code["user.created"].var_schema is not None

    # Its own creation was delivered to it (it subscribed to webhook.created).
    (arrived,) = receiver.wait_for(lambda r: claims(r.token)["type"] == "webhook.created")
    payload = claims(arrived.token)
    assert payload["data"]["webhook"]["id"] == webhook_id
    event = client.webhooks_api.get_event(payload["event_id"])
    assert isinstance(event, GetEventResponse) and event.event is not None
    assert (event.event.event_id, event.event.type, event.event.source) == (
        payload["event_id"],
        "webhook.created",
        "api",
    )
    assert isinstance(event.event.timestamp, int)
    assert event.event.data == payload["data"]

    deleted = client.webhooks_api.delete_web_hook(webhook_id)
    assert isinstance(deleted, DeleteWebhookResponse) and deleted.code == "WEBHOOK_DELETED"
    assert listed(client, webhook_id) is None
    with pytest.raises(BadRequestException) as raised:
        client.webhooks_api.delete_web_hook(webhook_id)
    assert "WEBHOOK_NOT_FOUND" in str(raised.value.body)


def test_the_sdk_sees_a_plain_http_endpoint_refused(client: ManagementClient) -> None:
    with pytest.raises(BadRequestException) as raised:
        client.webhooks_api.create_web_hook(
            CreateWebHookRequest(
                endpoint="http://hooks.example.com/kinde",
                event_types=["user.created"],
                name="insecure",
            )
        )
    assert "ENDPOINT_NOT_HTTPS" in str(raised.value.body)
