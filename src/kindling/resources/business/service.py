"""Business: Kinde's ``GET /business`` and ``PATCH /business``.

Kindling serves one environment per database, so there is one business record. It is
written the first time it is read or updated (a random ``bus_…`` code, the name
``Kindling``, no contact details, clickwrap and Kinde branding off): a read that finds
none inserts it, and two first reads at once keep one.

``PATCH`` changes only the fields it sends. ``business_name`` and the two flags cannot be
cleared (the contract shows them as non-nullable), so a null there means "unchanged";
a null or blank email, phone, industry, timezone or URL clears it. ``industry_key`` must
be a key of ``GET /industries`` and ``timezone_key`` a key of ``GET /timezones`` (both
asked of their services); the URLs must be absolute ``http``/``https`` URLs. Anything
invalid is refused before anything is written.

A change records ``business.updated`` (Kindling's) with the business after it and the
names of the fields that changed; a PATCH that changes nothing records nothing.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from typing import Any
from urllib.parse import urlsplit

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import UNSET, Body, decode_body, given
from kindling.platform.codes import Code, derived
from kindling.platform.errors import ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import hex_id
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import optional_bool, optional_text, required_text
from kindling.resources.business.model import Business
from kindling.resources.business.repository import BUSINESS_REPO
from kindling.resources.industries.service import INDUSTRIES
from kindling.resources.timezones.service import list_timezones
from kindling.resources.users.service import validate_email

DEFAULT_NAME = "Kindling"
NAME_MAX = 128
PHONE_MAX = 32
URL_MAX = 2048
PERK_CODE_MAX = 64
_PHONE = re.compile(r"\+?[0-9][0-9 ().\-]{2,31}")


def business_code() -> str:
    """Kinde's business codes: ``bus_`` and 11 hex characters."""
    return "bus_" + hex_id(6)[:11]


class BusinessBody(Body, frozen=True):
    """``PATCH /business``: ``UNSET`` fields may be cleared with null, the others not."""

    business_name: object = None
    email: object = UNSET
    phone: object = UNSET
    industry_key: object = UNSET
    timezone_key: object = UNSET
    privacy_url: object = UNSET
    terms_url: object = UNSET
    is_click_wrap: object = None
    is_show_kinde_branding: object = None
    kinde_perk_code: object = UNSET


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _email(value: object) -> str | None:
    return None if _blank(value) else validate_email(value)


def _phone(value: object) -> str | None:
    phone = optional_text(value, "phone", PHONE_MAX, "PHONE")
    if phone is not None and not _PHONE.fullmatch(phone):
        raise ValidationError("phone is not a valid phone number", Code.INVALID_PHONE)
    return phone


def _url(value: object, field: str) -> str | None:
    url = optional_text(value, field, URL_MAX, field.upper())
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        raise ValidationError(
            f"{field} must be an absolute http or https URL", derived(f"INVALID_{field.upper()}")
        )
    return url


def industry_name(key: str | None) -> str | None:
    """The display name of an industry key (``GET /industries``)."""
    return next((i.name for i in INDUSTRIES if i.key == key), None)


def timezone_names(now: float) -> dict[str, str]:
    """The keys of ``GET /timezones`` and their names at ``now``."""
    return {zone.key: zone.name for zone in list_timezones(now)}


def _industry(value: object) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str) or industry_name(value.strip()) is None:
        raise ValidationError(
            "industry_key must be a key of GET /industries", derived("INVALID_INDUSTRY_KEY")
        )
    return value.strip()


def _timezone(value: object, now: float) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str) or value.strip() not in timezone_names(now):
        raise ValidationError(
            "timezone_key must be a key of GET /timezones", derived("INVALID_TIMEZONE_KEY")
        )
    return value.strip()


def _changes(data: BusinessBody, now: float) -> dict[str, Any]:
    """The fields a PATCH sets, validated (in the contract's order, the first error wins)."""
    changes: dict[str, Any] = {}
    if data.business_name is not None:
        changes["name"] = required_text(
            data.business_name, "business_name", NAME_MAX, "BUSINESS_NAME"
        )
    if given(data.email):
        changes["email"] = _email(data.email)
    if given(data.industry_key):
        changes["industry_key"] = _industry(data.industry_key)
    for flag in ("is_click_wrap", "is_show_kinde_branding"):
        value = optional_bool(getattr(data, flag), flag)
        if value is not None:
            changes[flag] = value
    if given(data.kinde_perk_code):
        changes["kinde_perk_code"] = optional_text(
            data.kinde_perk_code, "kinde_perk_code", PERK_CODE_MAX, "KINDE_PERK_CODE"
        )
    if given(data.phone):
        changes["phone"] = _phone(data.phone)
    for field in ("privacy_url", "terms_url"):
        value = getattr(data, field)
        if given(value):
            changes[field] = _url(value, field)
    if given(data.timezone_key):
        changes["timezone_key"] = _timezone(data.timezone_key, now)
    return changes


def business_data(business: Business) -> dict[str, Any]:
    """The business as its ``business.updated`` event shows it (``data.business``)."""
    return {f.name: getattr(business, f.name) for f in fields(Business)}


def _ensure(uow: UnitOfWork, clock: Clock) -> Business:
    repo = uow[BUSINESS_REPO]
    found = repo.get()
    if found is None:
        repo.add_if_absent(
            Business(code=business_code(), name=DEFAULT_NAME, created_on=isoformat(clock.now()))
        )
        found = repo.get()
    assert found is not None  # inserted just above, or by whoever won the race
    return found


def get_business(storage: Storage, clock: Clock) -> Business:
    """The business record, written with its defaults if this is the first read."""
    with storage.read() as uow:
        found = uow[BUSINESS_REPO].get()
    if found is not None:
        return found
    with storage.transaction() as uow:
        return _ensure(uow, clock)


def update_business(storage: Storage, clock: Clock, body: Any) -> Business:
    data = decode_body(body, BusinessBody)
    changes = _changes(data, clock.now())
    if not changes:
        raise ValidationError(
            "give at least one field of the business to update", Code.NO_FIELDS_TO_UPDATE
        )
    with storage.transaction() as uow:
        current = _ensure(uow, clock)
        updated = replace(current, **changes)
        changed = [
            f.name for f in fields(Business) if getattr(updated, f.name) != getattr(current, f.name)
        ]
        if changed:
            uow[BUSINESS_REPO].update(updated, changed)
            uow.record(
                EventType.BUSINESS_UPDATED,
                {"business": business_data(updated), "updated_fields": changed},
            )
    return updated
