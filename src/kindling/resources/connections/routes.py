"""Connections: Kinde's six ``/connections`` operations.

Reads show a connection as Kinde's ``connection`` object (``id, name, display_name,
strategy``); ``GET /connections/{id}`` adds, beyond the spec, the stored ``options``
and the managing ``organization_code`` (clients ignore unknown fields). No answer ever
holds ``client_secret`` or ``saml_signing_private_key``: they are not in ``options``.
"""

from typing import Any

from kindling.crypto.sealing import ValueSealer
from kindling.platform.operations import Call, Router
from kindling.platform.params import ENDING_BEFORE, PAGE_SIZE, STARTING_AFTER, Query
from kindling.platform.render import compact, success
from kindling.resources.connections import service
from kindling.resources.connections.model import connection_fields, connection_item

router = Router("Connections")
#: ``home_realm_domain``: a domain name is at most 253 characters (RFC 1035 §2.3.4).
HOME_REALM_DOMAIN = Query.string("home_realm_domain", max_length=service.DOMAIN_MAX + 1)


def _sealer(call: Call) -> ValueSealer:
    return service.connection_sealer(call.ctx.master)


@router.operation(
    "GET",
    "/connections",
    scope="read:connections",
    operation_id="GetConnections",
    query=(PAGE_SIZE, HOME_REALM_DOMAIN, STARTING_AFTER, ENDING_BEFORE),
)
def get_connections(call: Call) -> dict[str, Any]:
    items, has_more = service.list_connections(
        call.ctx.storage,
        call.param(HOME_REALM_DOMAIN),
        call.param(STARTING_AFTER),
        call.param(ENDING_BEFORE),
        call.param(PAGE_SIZE),
    )
    return success(
        "Success", "OK", connections=[connection_item(c) for c in items], has_more=has_more
    )


@router.operation(
    "POST",
    "/connections",
    scope="create:connections",
    status=201,
    operation_id="CreateConnection",
    body=True,
)
def create_connection(call: Call) -> dict[str, Any]:
    connection = service.create_connection(
        call.ctx.storage, call.ctx.clock, _sealer(call), call.json(required=False)
    )
    return success(
        "Connection successfully created", "CONNECTION_CREATED", connection={"id": connection.id}
    )


@router.operation(
    "GET",
    "/connections/{connection_id}",
    scope="read:connections",
    operation_id="GetConnection",
)
def get_connection(call: Call) -> dict[str, Any]:
    connection = service.get_connection(call.ctx.storage, call.path["connection_id"])
    shown = {
        **connection_fields(connection),
        **compact(
            {"organization_code": connection.organization_code, "options": connection.options}
        ),
    }
    return success("Success", "OK", connection=shown)


@router.operation(
    "PATCH",
    "/connections/{connection_id}",
    scope="update:connections",
    operation_id="UpdateConnection",
    body=True,
    errors=(404,),
)
def update_connection(call: Call) -> dict[str, Any]:
    service.update_connection(
        call.ctx.storage,
        call.ctx.clock,
        _sealer(call),
        call.path["connection_id"],
        call.json(required=False),
    )
    return success("Connection successfully updated", "CONNECTION_UPDATED")


@router.operation(
    "PUT",
    "/connections/{connection_id}",
    scope="update:connections",
    operation_id="ReplaceConnection",
    body=True,
    errors=(404,),
)
def replace_connection(call: Call) -> dict[str, Any]:
    service.replace_connection(
        call.ctx.storage,
        call.ctx.clock,
        _sealer(call),
        call.path["connection_id"],
        call.json(required=False),
    )
    return success("Connection successfully updated", "CONNECTION_UPDATED")


@router.operation(
    "DELETE",
    "/connections/{connection_id}",
    scope="delete:connections",
    operation_id="deleteConnection",
    errors=(404,),
)
def delete_connection(call: Call) -> dict[str, Any]:
    service.delete_connection(call.ctx.storage, call.path["connection_id"])
    return success("Connection successfully deleted", "CONNECTION_DELETED")
