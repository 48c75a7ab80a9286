"""Organizations: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The connection record belongs to ``kindling.resources.connections``; the name stays
# importable from here for the organization code (and tests) that list enabled ones.
from kindling.resources.connections.model import Connection as Connection


@dataclass(frozen=True)
class OrganizationSettings:
    """An organization's branding and policies (the ``settings`` JSON column).

    Colours keep the value as sent (``raw``); the API derives ``hex`` and ``hsl``.
    """

    background_color: str | None = None
    button_color: str | None = None
    button_text_color: str | None = None
    link_color: str | None = None
    background_color_dark: str | None = None
    button_color_dark: str | None = None
    button_text_color_dark: str | None = None
    link_color_dark: str | None = None
    theme_code: str = "light"
    is_auto_membership_enabled: bool = False
    is_auto_join_domain_list: bool = False
    allowed_domains: tuple[str, ...] = ()
    is_enable_advanced_orgs: bool = False
    is_enforce_mfa: bool = False
    sender_name: str | None = None
    sender_email: str | None = None
    suspended_on: str | None = None
    mfa_enabled_factors: tuple[str, ...] = ()
    mfa_recovery_codes_enabled: bool = True
    passkey_override: bool = False
    passkey_policy: str | None = None
    is_use_org_sso_session_policy: bool = False
    sso_session_persistence_mode: str | None = None
    is_use_org_authenticated_session_lifetime: bool = False
    authenticated_session_lifetime: int | None = None


@dataclass(frozen=True)
class Organization:
    """An organization (Kinde code ``org_<11 hex>``); ``handle`` is unique when set."""

    code: str
    name: str
    created_on: str
    handle: str | None = None
    external_id: str | None = None
    is_default: bool = False
    is_suspended: bool = False
    settings: OrganizationSettings = field(default_factory=OrganizationSettings)


@dataclass(frozen=True)
class OrganizationLogo:
    """A stored logo's metadata (``type`` is ``light`` or ``dark``); the bytes stay in storage."""

    org_code: str
    type: str
    content_type: str
    created_on: str


@dataclass(frozen=True)
class OrganizationFlagRef:
    """What creating an organization needs to know about a feature flag definition."""

    id: str
    key: str
    type: str
    default_value: str
    allow_override_level: str | None = None
