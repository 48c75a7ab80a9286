"""The official Python SDK drives every ``business_api`` operation over TLS.

Typed, non-None results for ``get_business`` and ``update_business`` (with the values
read back), and the server's refusals as ``BadRequestException`` with their codes.
"""

from __future__ import annotations

import uuid

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException
from kinde_sdk.management.models import (
    GetBusinessResponse,
    SuccessResponse,
    UpdateBusinessRequest,
)


def test_business_api_every_operation(client: ManagementClient) -> None:
    before = client.business_api.get_business()
    assert isinstance(before, GetBusinessResponse) and before.business is not None
    assert before.business.code is not None and before.business.code.startswith("bus_")

    name = f"SDK business {uuid.uuid4().hex[:8]}"
    updated = client.business_api.update_business(
        update_business_request=UpdateBusinessRequest(
            business_name=name,
            email="sdk@example.com",
            industry_key="engineering",
            timezone_key="europe_london",
            phone="+44 20 7946 0000",
            privacy_url="https://example.com/privacy",
            terms_url="https://example.com/terms",
            is_click_wrap=True,
            is_show_kinde_branding=False,
        )
    )
    assert isinstance(updated, SuccessResponse) and updated.code == "BUSINESS_UPDATED"

    after = client.business_api.get_business()
    assert isinstance(after, GetBusinessResponse) and after.business is not None
    found = after.business
    assert (found.code, found.name, found.email, found.industry) == (
        before.business.code,
        name,
        "sdk@example.com",
        "Engineering",
    )
    assert found.timezone is not None and found.timezone.startswith("Europe/London (")
    assert (found.has_clickwrap, found.has_kinde_branding) == (True, False)
    assert (found.privacy_url, found.terms_url) == (
        "https://example.com/privacy",
        "https://example.com/terms",
    )

    # An explicit None is sent as null and clears the detail.
    cleared = client.business_api.update_business(
        update_business_request=UpdateBusinessRequest(email=None)
    )
    assert isinstance(cleared, SuccessResponse)
    again = client.business_api.get_business()
    assert again is not None and again.business is not None
    assert (again.business.email, again.business.name) == (None, name)

    with pytest.raises(BadRequestException) as caught:
        client.business_api.update_business(
            update_business_request=UpdateBusinessRequest(timezone_key="mars_olympus_mons")
        )
    assert "INVALID_TIMEZONE_KEY" in str(caught.value.body)
