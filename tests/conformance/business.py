"""Conformance builders of the ``business`` resource."""

from __future__ import annotations

from tests.conformance.framework import Req, World, builder, uid


@builder("getBusiness")
def _get_business(w: World) -> Req:
    return Req("/business")


@builder("updateBusiness")
def _update_business(w: World) -> Req:
    return Req(
        "/business",
        json={
            "business_name": f"Conformance {uid()}",
            "email": "owner@example.com",
            "industry_key": "construction",
            "timezone_key": "europe_london",
            "phone": "123-456-7890",
            "privacy_url": "https://example.com/privacy",
            "terms_url": "https://example.com/terms",
            "is_click_wrap": True,
            "is_show_kinde_branding": False,
        },
    )
