"""Webhooks (Kinde's ``Webhooks`` tag) and Kindling's re-send extension."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.render import success
from kindling.resources.webhooks import service
from kindling.resources.webhooks.model import webhook_item

router = Router("Webhooks")


@router.operation(
    "GET",
    "/webhooks",
    scope="read:webhooks",
    operation_id="GetWebHooks",
)
def get_web_hooks(call: Call) -> dict[str, Any]:
    items = [webhook_item(w) for w in service.list_webhooks(call.ctx.storage)]
    return success("Success", webhooks=items)


@router.operation(
    "POST",
    "/webhooks",
    scope="create:webhooks",
    status=200,
    operation_id="CreateWebHook",
    body=True,
)
def create_web_hook(call: Call) -> dict[str, Any]:
    webhook = service.create_webhook(call.ctx.storage, call.ctx.clock, call.json())
    return success(
        "Webhook successfully created",
        "WEBHOOK_CREATED",
        webhook={"id": webhook.id, "endpoint": webhook.endpoint},
    )


@router.operation(
    "PATCH",
    "/webhooks/{webhook_id}",
    scope="update:webhooks",
    operation_id="UpdateWebHook",
    body=True,
)
def update_web_hook(call: Call) -> dict[str, Any]:
    webhook = service.update_webhook(call.ctx.storage, call.path["webhook_id"], call.json())
    return success("Webhook successfully updated", "WEBHOOK_UPDATED", webhook={"id": webhook.id})


@router.operation(
    "DELETE",
    "/webhooks/{webhook_id}",
    scope="delete:webhooks",
    operation_id="DeleteWebHook",
)
def delete_web_hook(call: Call) -> dict[str, Any]:
    service.delete_webhook(call.ctx.storage, call.path["webhook_id"])
    return success("Webhook successfully deleted", "WEBHOOK_DELETED")


@router.operation(
    "GET",
    "/event_types",
    scope="read:event_types",
    operation_id="GetEventTypes",
)
def get_event_types(call: Call) -> dict[str, Any]:
    return success("Success", event_types=service.event_types())


@router.operation(
    "GET",
    "/events/{event_id}",
    scope="read:events",
    operation_id="GetEvent",
)
def get_event(call: Call) -> dict[str, Any]:
    event = service.get_event(call.ctx.storage, call.path["event_id"])
    return success("Success", event=service.event_item(event))


extensions = Router("Kindling extensions")


@extensions.operation(
    "POST",
    "/events/{event_id}/resend",
    scope="update:webhooks",
    operation_id="resendEvent",
    errors=(404,),
)
def resend_event(call: Call) -> dict[str, Any]:
    """Queue an event again to the webhooks subscribed to its type (due now, a fresh
    retry window); the deliverer sends it in the background."""
    queued = service.resend_event(
        call.ctx.storage,
        call.ctx.clock,
        call.path["event_id"],
        call.ctx.settings.webhook_retry_window,
    )
    return success(
        "Event queued for delivery",
        "EVENT_RESENT",
        deliveries=[{"id": d.id, "webhook_id": d.webhook_id} for d in queued],
    )
