"""MFA."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.render import success
from kindling.resources.mfa import service

router = Router("MFA")


@router.operation("PUT", "/mfa", scope="update:mfa", operation_id="ReplaceMFA", body=True)
def replace_mfa(call: Call) -> dict[str, Any]:
    service.replace_mfa(call.ctx.storage, call.ctx.clock, call.json())
    return success("MFA configuration successfully updated", "MFA_UPDATED")
