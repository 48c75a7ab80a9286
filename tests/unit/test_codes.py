"""The error-code catalogue: members are their wire names; derived codes keep to the families."""

import pytest

from kindling.platform.codes import Code, derived
from kindling.platform.errors import NotFound


def test_a_member_is_its_wire_name() -> None:
    assert Code.USER_NOT_FOUND == "USER_NOT_FOUND"
    assert NotFound("User not found", Code.USER_NOT_FOUND).code == "USER_NOT_FOUND"


@pytest.mark.parametrize(
    "code",
    ["NAME_REQUIRED", "KEY_TOO_LONG", "INVALID_PAGE_SIZE", "TOO_MANY_ROLES", "DUPLICATE_ROLE"],
)
def test_field_family_codes_are_accepted(code: str) -> None:
    assert derived(code) == code


@pytest.mark.parametrize("code", ["USER_NOT_FOUND", "invalid_name", "REQUIRED", ""])
def test_a_code_outside_the_families_is_refused(code: str) -> None:
    with pytest.raises(ValueError):
        derived(code)
