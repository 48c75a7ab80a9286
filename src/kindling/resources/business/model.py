"""Business: the domain object.

A plain frozen dataclass: no I/O, no framework types. Timestamps are ISO 8601 strings in
UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Business:
    """The business an environment belongs to: one per environment (Kindling serves one
    environment per database). Industry and timezone are kept by key (Kinde's
    ``industry_key`` and ``timezone_key``) and shown by name."""

    code: str
    name: str
    created_on: str
    email: str | None = None
    phone: str | None = None
    industry_key: str | None = None
    timezone_key: str | None = None
    privacy_url: str | None = None
    terms_url: str | None = None
    is_click_wrap: bool = False
    is_show_kinde_branding: bool = False
    kinde_perk_code: str | None = None
