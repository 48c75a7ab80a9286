"""Business."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.render import success
from kindling.resources.business import service

router = Router("Business")


@router.operation("GET", "/business", scope="read:businesses", operation_id="getBusiness")
def get_business(call: Call) -> dict[str, Any]:
    """The business as Kinde shows it: industry and timezone by name, unset details null."""
    business = service.get_business(call.ctx.storage, call.ctx.clock)
    timezone = None
    if business.timezone_key is not None:
        timezone = service.timezone_names(call.ctx.clock.now()).get(business.timezone_key)
    return success(
        "Success",
        "OK",
        business={
            "code": business.code,
            "name": business.name,
            "phone": business.phone,
            "email": business.email,
            "industry": service.industry_name(business.industry_key),
            "timezone": timezone,
            "privacy_url": business.privacy_url,
            "terms_url": business.terms_url,
            "has_clickwrap": business.is_click_wrap,
            "has_kinde_branding": business.is_show_kinde_branding,
            "created_on": business.created_on,
        },
    )


@router.operation(
    "PATCH", "/business", scope="update:businesses", operation_id="updateBusiness", body=True
)
def update_business(call: Call) -> dict[str, Any]:
    service.update_business(call.ctx.storage, call.ctx.clock, call.json())
    return success("Business successfully updated", "BUSINESS_UPDATED")
