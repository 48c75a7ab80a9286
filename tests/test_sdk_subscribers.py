"""The official Python SDK drives every subscribers operation over TLS.

``subscribers_api`` against a real server: typed, non-None results (the SDK returns
``None`` on a status other than the spec's 201 for ``create_subscriber``).
"""

from __future__ import annotations

import uuid

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException
from kinde_sdk.management.models import (
    CreateSubscriberSuccessResponse,
    GetSubscriberResponse,
    GetSubscribersResponse,
    SubscribersSubscriber,
)


def uid() -> str:
    return uuid.uuid4().hex[:10]


def test_subscribers_api_every_operation(client: ManagementClient) -> None:
    email = f"sdk-{uid()}@example.com"
    created = client.subscribers_api.create_subscriber(
        first_name="Sally", last_name="Sdk", email=email
    )
    assert isinstance(created, CreateSubscriberSuccessResponse)
    assert created.subscriber is not None and created.subscriber.subscriber_id
    subscriber_id = created.subscriber.subscriber_id

    got = client.subscribers_api.get_subscriber(subscriber_id)
    assert isinstance(got, GetSubscriberResponse) and got.subscribers is not None
    [one] = got.subscribers
    assert (one.id, one.preferred_email, one.first_name, one.last_name) == (
        subscriber_id,
        email,
        "Sally",
        "Sdk",
    )

    found: list[SubscribersSubscriber] = []
    token: str | None = None
    while True:
        page = client.subscribers_api.get_subscribers(
            sort="email_asc", page_size=100, next_token=token
        )
        assert isinstance(page, GetSubscribersResponse) and page.subscribers is not None
        found.extend(s for s in page.subscribers if s.id == subscriber_id)
        if not page.next_token:
            break
        token = page.next_token
    [listed] = found
    assert (listed.email, listed.full_name) == (email, "Sally Sdk")


def test_subscriber_errors_reach_the_sdk_as_bad_requests(client: ManagementClient) -> None:
    email = f"twice-{uid()}@example.com"
    # The contract makes last_name a required query parameter (nullable, so it may be
    # blank); the SDK leaves a None parameter out of the query, which is refused.
    with pytest.raises(BadRequestException) as caught:
        client.subscribers_api.create_subscriber(first_name="Once", last_name=None, email=email)
    assert "LAST_NAME_REQUIRED" in str(caught.value.body)
    client.subscribers_api.create_subscriber(first_name="Once", last_name="", email=email)
    with pytest.raises(BadRequestException) as caught:
        client.subscribers_api.create_subscriber(first_name="Twice", last_name="", email=email)
    assert "SUBSCRIBER_ALREADY_EXISTS" in str(caught.value.body)
    with pytest.raises(BadRequestException) as caught:
        client.subscribers_api.get_subscriber("sub_missing")
    assert "SUBSCRIBER_NOT_FOUND" in str(caught.value.body)
