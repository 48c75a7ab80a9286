"""Subscribers: create, get, list (sorted, keyset-paged).

Kinde's ``POST /subscribers`` takes the subscriber's ``first_name``, ``last_name`` and
``email`` as query parameters. The contract marks ``last_name`` and ``email`` nullable
(a query parameter can only be blank); a subscriber is an address on the mailing list,
so Kindling requires the email (``EMAIL_REQUIRED``, checked like a user's email) and
stores a blank last name as none. One subscriber per address, compared
case-insensitively through a unique index, so concurrent sign-ups of one address yield
one subscriber (``SUBSCRIBER_ALREADY_EXISTS``).

Creating one records Kinde's ``subscriber.created`` in its transaction.
"""

from __future__ import annotations

from kindling.clock import Clock, isoformat
from kindling.platform.codes import Code
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound
from kindling.platform.event_types import EventType
from kindling.platform.ids import hex_id
from kindling.platform.pagination import page
from kindling.platform.storage import Storage
from kindling.platform.validation import optional_text, required_text
from kindling.resources.subscribers.model import Subscriber
from kindling.resources.subscribers.repository import SUBSCRIBERS_REPO
from kindling.resources.users.service import validate_email

NAME_MAX = 64
#: Kinde's ``sort`` values for ``GET /subscribers``: (column, descending).
SORTS = {
    "name_asc": ("name", False),
    "name_desc": ("name", True),
    "email_asc": ("email", False),
    "email_desc": ("email", True),
}


def subscriber_id() -> str:
    return "sub_" + hex_id()


def subscriber_data(subscriber: Subscriber) -> dict[str, str | None]:
    """A subscriber as its ``subscriber.created`` event shows it (``data.subscriber``)."""
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "first_name": subscriber.first_name,
        "last_name": subscriber.last_name,
    }


def _taken() -> AlreadyExists:
    return AlreadyExists(
        "A subscriber with this email already exists", Code.SUBSCRIBER_ALREADY_EXISTS
    )


def create_subscriber(
    storage: Storage, clock: Clock, first_name: str, last_name: str, email: str
) -> Subscriber:
    subscriber = Subscriber(
        id=subscriber_id(),
        first_name=required_text(first_name, "first_name", NAME_MAX, "FIRST_NAME"),
        last_name=optional_text(last_name, "last_name", NAME_MAX, "LAST_NAME"),
        email=validate_email(email),
        created_on=isoformat(clock.now()),
    )
    try:
        with storage.transaction() as uow:
            if uow[SUBSCRIBERS_REPO].get_by_email(subscriber.email) is not None:
                raise _taken()
            uow[SUBSCRIBERS_REPO].add(subscriber)
            uow.record(EventType.SUBSCRIBER_CREATED, {"subscriber": subscriber_data(subscriber)})
    except IntegrityViolation:
        raise _taken() from None
    return subscriber


def get_subscriber(storage: Storage, subscriber_id_: str) -> Subscriber:
    with storage.read() as uow:
        subscriber = uow[SUBSCRIBERS_REPO].get(subscriber_id_)
    if subscriber is None:
        raise NotFound("Subscriber not found", Code.SUBSCRIBER_NOT_FOUND)
    return subscriber


def list_subscribers(
    storage: Storage, after: int | None, size: int
) -> tuple[list[Subscriber], int | None]:
    """Subscribers in the order they subscribed."""
    with storage.read() as uow:
        rows = uow[SUBSCRIBERS_REPO].list_page(after, size + 1)
    return page(rows, size)


def list_subscribers_sorted(
    storage: Storage, column: str, after: tuple[str, int] | None, size: int, descending: bool
) -> tuple[list[Subscriber], tuple[str, int] | None]:
    with storage.read() as uow:
        rows = uow[SUBSCRIBERS_REPO].list_sorted(column, after, size + 1, descending)
    return page(rows, size)
