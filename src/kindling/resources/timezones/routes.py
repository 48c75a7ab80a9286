"""Timezones: ``GET /timezones``."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.render import success
from kindling.resources.timezones import service

router = Router("Timezones")


@router.operation(
    "GET",
    "/timezones",
    scope="read:timezones",
    operation_id="getTimezones",
)
def get_timezones(call: Call) -> dict[str, Any]:
    zones = service.list_timezones(call.ctx.clock.now())
    return success("Success", timezones=[{"key": z.key, "name": z.name} for z in zones])
