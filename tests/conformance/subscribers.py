"""Conformance builders of the ``subscribers`` resource."""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder, uid, unique_email


def subscriber(w: World) -> tuple[str, str]:
    """A fresh subscriber: (id, email)."""
    email = unique_email("subscriber")
    body = w.ok(
        "CreateSubscriber",
        Req("/subscribers", params={"first_name": "Conf", "last_name": uid(), "email": email}),
        "create a subscriber",
    )
    return str(body["subscriber"]["subscriber_id"]), email


@builder("GetSubscribers")
def _get_subscribers(w: World) -> Req:
    subscriber(w)
    return Req("/subscribers", params={"page_size": 5, "sort": "email_desc"})


@builder("CreateSubscriber")
def _create_subscriber(w: World) -> Req:
    return Req(
        "/subscribers",
        params={"first_name": "Conf", "last_name": "Subscriber", "email": unique_email("sub")},
    )


@builder("GetSubscriber")
def _get_subscriber(w: World) -> Req:
    subscriber_id, email = subscriber(w)

    def check(body: Any) -> None:
        [item] = body["subscribers"]
        assert (item["id"], item["preferred_email"]) == (subscriber_id, email), body

    return Req(f"/subscribers/{subscriber_id}", check=check)
