"""Industries: ``GET /industries``."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.render import success
from kindling.resources.industries.service import INDUSTRIES

router = Router("Industries")


@router.operation("GET", "/industries", scope="read:industries", operation_id="getIndustries")
def get_industries(call: Call) -> dict[str, Any]:
    return success("Success", industries=[{"key": i.key, "name": i.name} for i in INDUSTRIES])
