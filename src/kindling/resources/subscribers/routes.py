"""Subscribers."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.pagination import Keyed, keyset_page
from kindling.platform.params import NEXT_TOKEN, PAGE_SIZE, Query
from kindling.platform.render import compact, paged, success
from kindling.resources.subscribers import service
from kindling.resources.subscribers.model import Subscriber

router = Router("Subscribers")
SORT = Query.enum("sort", service.SORTS)
FIRST_NAME = Query.string("first_name", required=True)
LAST_NAME = Query.string("last_name", required=True)
EMAIL = Query.string("email", required=True)


def subscriber_item(subscriber: Subscriber) -> dict[str, Any]:
    """A subscriber as ``GET /subscribers`` lists it."""
    return compact(
        {
            "id": subscriber.id,
            "email": subscriber.email,
            "full_name": subscriber.full_name,
            "first_name": subscriber.first_name,
            "last_name": subscriber.last_name,
        }
    )


@router.operation(
    "GET",
    "/subscribers",
    scope="read:subscribers",
    operation_id="GetSubscribers",
    query=(SORT, PAGE_SIZE, NEXT_TOKEN),
)
def get_subscribers(call: Call) -> dict[str, Any]:
    storage = call.ctx.storage

    def by_sort(sort: str, after: Keyed | None, size: int) -> tuple[list[Subscriber], Keyed | None]:
        column, descending = service.SORTS[sort]
        return service.list_subscribers_sorted(storage, column, after, size, descending)

    items, token = keyset_page(
        call.ctx.cursors,
        "subscribers",
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        sort=call.param(SORT),
        by_sequence=lambda after, size: service.list_subscribers(storage, after, size),
        by_sort=by_sort,
    )
    return paged("subscribers", [subscriber_item(s) for s in items], token)


@router.operation(
    "POST",
    "/subscribers",
    scope="create:subscribers",
    status=201,
    operation_id="CreateSubscriber",
    query=(FIRST_NAME, LAST_NAME, EMAIL),
)
def create_subscriber(call: Call) -> dict[str, Any]:
    subscriber = service.create_subscriber(
        call.ctx.storage,
        call.ctx.clock,
        call.param(FIRST_NAME),
        call.param(LAST_NAME),
        call.param(EMAIL),
    )
    return {"subscriber": {"subscriber_id": subscriber.id}}


@router.operation(
    "GET",
    "/subscribers/{subscriber_id}",
    scope="read:subscribers",
    operation_id="GetSubscriber",
)
def get_subscriber(call: Call) -> dict[str, Any]:
    subscriber = service.get_subscriber(call.ctx.storage, call.path["subscriber_id"])
    item = compact(
        {
            "id": subscriber.id,
            "preferred_email": subscriber.email,
            "first_name": subscriber.first_name,
            "last_name": subscriber.last_name,
        }
    )
    return success("Success", "OK", subscribers=[item])
