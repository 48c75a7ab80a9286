"""Organizations: create, read, update, delete; handle, logos, policies, connections.

An organization's code is ``org_<11 hex>``; its handle, when set, is unique (a unique
index decides between concurrent writers). Branding and policies live in a typed
settings object stored as one JSON column. Every change validates its whole input
first and then runs in one transaction, which also records the change's domain event
(Kinde's ``organization.created``, ``organization.updated``, ``organization.deleted``;
Kindling's logo and connection events; see ``kindling.platform.event_types``). A call
that changes nothing records nothing.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import msgspec

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import Body, decode_body, given
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, Conflict, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import organization_code
from kindling.platform.pagination import page
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import optional_bool, optional_text, required_text
from kindling.resources.applications.service import delete_organization_applications
from kindling.resources.connections.model import Connection
from kindling.resources.connections.service import find_connection
from kindling.resources.organizations.model import (
    Organization,
    OrganizationLogo,
    OrganizationSettings,
)
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from kindling.resources.users.service import validate_email

NAME_MAX = 64
SENDER_NAME_MAX = 64
EXTERNAL_ID_MAX = 255
DOMAIN_MAX = 253
MAX_DOMAINS = 100
MAX_FEATURE_FLAGS = 100
MAX_LOGO_BYTES = 1_048_576
MAX_SESSION_LIFETIME = 2_147_483_647
THEME_CODES = ("light", "dark", "user_preference")
COLOR_SCHEMES = {"light": "light", "dark": "dark", "user_preference": "light dark"}
COLOR_FIELDS = (
    "background_color",
    "button_color",
    "button_text_color",
    "link_color",
    "background_color_dark",
    "button_color_dark",
    "button_text_color_dark",
    "link_color_dark",
)
LOGO_TYPES = ("light", "dark")
FLAG_TYPES = ("str", "int", "bool")
MFA_FACTORS = ("mfa:email", "mfa:sms", "mfa:authenticator_app")
PASSKEY_POLICIES = ("off", "optional", "mandatory")
#: Kindling has no environment-level passkey setting: organizations inherit "off".
ENVIRONMENT_PASSKEY_POLICY = "off"
SSO_PERSISTENCE_MODES = ("persistent", "non_persistent")
_HANDLE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: A pinned organization code (configuration as code): ``org_`` and 1 to 64 ASCII letters,
#: digits or ``_``, the shape of Kinde's ``org_<hex>`` codes that a round trip must keep.
PINNED_CODE = re.compile(r"org_[A-Za-z0-9_]{1,64}")
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_DOMAIN = re.compile(r"[^\s\x00-\x1f\x7f]+")


# --- request bodies (see kindling.platform.bodies) -------------------------------
#
# Colour fields are read by name (``COLOR_FIELDS``) from the body Structs below.


class CreateOrganizationBody(Body, frozen=True):
    """Kinde's ``POST /organization`` body."""

    name: object = None
    handle: object = None
    external_id: object = None
    feature_flags: object = None
    background_color: object = None
    button_color: object = None
    button_text_color: object = None
    link_color: object = None
    background_color_dark: object = None
    button_color_dark: object = None
    button_text_color_dark: object = None
    link_color_dark: object = None
    theme_code: object = None
    is_auto_membership_enabled: object = None
    #: Kinde's deprecated alias of ``is_auto_membership_enabled``.
    is_allow_registrations: object = None
    sender_name: object = None
    sender_email: object = None
    is_create_billing_customer: object = None
    billing_email: object = None
    billing_plan_code: object = None


class UpdateOrganizationBody(Body, frozen=True):
    """Kinde's ``PATCH /organization/{org_code}`` body.

    ``UNSET`` fields distinguish absent from null: a null colour, sender, handle or
    external id clears it. The others treat null as absent.
    """

    name: object = None
    external_id: object = msgspec.UNSET
    handle: object = msgspec.UNSET
    background_color: object = msgspec.UNSET
    button_color: object = msgspec.UNSET
    button_text_color: object = msgspec.UNSET
    link_color: object = msgspec.UNSET
    background_color_dark: object = msgspec.UNSET
    button_color_dark: object = msgspec.UNSET
    button_text_color_dark: object = msgspec.UNSET
    link_color_dark: object = msgspec.UNSET
    theme_code: object = None
    is_auto_membership_enabled: object = None
    is_allow_registrations: object = None
    is_auto_join_domain_list: object = None
    is_enable_advanced_orgs: object = None
    is_enforce_mfa: object = None
    allowed_domains: object = None
    sender_name: object = msgspec.UNSET
    sender_email: object = msgspec.UNSET
    is_suspended: object = None


class SessionsBody(Body, frozen=True):
    """Kinde's ``PATCH /organizations/{org_code}/sessions`` body."""

    is_use_org_sso_session_policy: object = None
    sso_session_persistence_mode: object = None
    is_use_org_authenticated_session_lifetime: object = None
    authenticated_session_lifetime: object = None


class MfaBody(Body, frozen=True):
    """Kinde's ``PUT /organizations/{org_code}/mfa`` body."""

    enabled_factors: object = None
    is_recovery_codes_enabled: object = None


class PasskeyBody(Body, frozen=True):
    """Kinde's ``PUT /organizations/{org_code}/passkey`` body."""

    is_override_environment_passkey_settings: object = None
    policy: object = None


# --- event data ---------------------------------------------------------------------


def organization_event_data(org: Organization) -> dict[str, Any]:
    """The organization as its events show it (Kinde's webhook ``data.organization``)."""
    return {
        "code": org.code,
        "name": org.name,
        "handle": org.handle,
        "external_id": org.external_id,
        "is_suspended": org.is_suspended,
    }


def updated_fields(before: Organization, after: Organization) -> list[str]:
    """The names of the fields and settings that differ, fields first."""
    names = [
        f.name
        for f in fields(Organization)
        if f.name != "settings" and getattr(before, f.name) != getattr(after, f.name)
    ]
    names += [
        f.name
        for f in fields(OrganizationSettings)
        if getattr(before.settings, f.name) != getattr(after.settings, f.name)
    ]
    return names


def _record_updated(uow: UnitOfWork, before: Organization, after: Organization) -> None:
    """Record ``organization.updated`` when something changed."""
    changed = updated_fields(before, after)
    if changed:
        uow.record(
            EventType.ORGANIZATION_UPDATED,
            {"organization": organization_event_data(after), "updated_fields": changed},
        )


# --- small validators ---------------------------------------------------------


def _as_object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{field} must be an object", derived(f"INVALID_{field.upper()}"))
    return value


def _handle(value: Any) -> str | None:
    """A handle: lowercase letters, digits, ``_`` and ``-``; blank means none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValidationError("handle must be a string", Code.INVALID_HANDLE)
    handle = value.strip()
    if len(handle) > 64:
        raise ValidationError("handle must be at most 64 characters", Code.HANDLE_TOO_LONG)
    if not _HANDLE.fullmatch(handle):
        raise ValidationError(
            "handle may contain only lowercase letters, digits, '_' and '-'", Code.INVALID_HANDLE
        )
    return handle


def _color(value: Any, field: str) -> str | None:
    """``#rgb`` or ``#rrggbb``; blank means unset."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not _COLOR.fullmatch(value.strip()):
        raise ValidationError(
            f"{field} must be a hex colour such as #0056f1", derived(f"INVALID_{field.upper()}")
        )
    return value.strip()


def _theme_code(value: Any) -> str:
    if value not in THEME_CODES:
        raise ValidationError(
            "theme_code must be light, dark or user_preference", Code.INVALID_THEME_CODE
        )
    return str(value)


def _sender_email(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return validate_email(value)
    except ValidationError as exc:
        code = (
            Code.SENDER_EMAIL_TOO_LONG
            if exc.code == Code.EMAIL_TOO_LONG
            else Code.INVALID_SENDER_EMAIL
        )
        raise ValidationError(f"sender_email: {exc.message}", code) from None


def _domains(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValidationError(
            "allowed_domains must be a list of strings", Code.INVALID_ALLOWED_DOMAINS
        )
    if len(value) > MAX_DOMAINS:
        raise ValidationError(
            f"allowed_domains accepts at most {MAX_DOMAINS} domains", Code.TOO_MANY_ALLOWED_DOMAINS
        )
    found: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _DOMAIN.fullmatch(item.strip()):
            raise ValidationError(
                "each allowed domain must be a non-blank string without spaces",
                Code.INVALID_ALLOWED_DOMAINS,
            )
        domain = item.strip().lower()
        if len(domain) > DOMAIN_MAX:
            raise ValidationError(
                f"an allowed domain must be at most {DOMAIN_MAX} characters",
                Code.ALLOWED_DOMAIN_TOO_LONG,
            )
        if domain not in found:
            found.append(domain)
    return tuple(found)


def _flag_types(value: Any) -> dict[str, str]:
    flags = _as_object(value, "feature_flags")
    if len(flags) > MAX_FEATURE_FLAGS:
        raise ValidationError(
            f"feature_flags accepts at most {MAX_FEATURE_FLAGS} flags", Code.TOO_MANY_FEATURE_FLAGS
        )
    for key, kind in flags.items():
        if not key.strip():
            raise ValidationError("a feature flag key is blank", Code.INVALID_FEATURE_FLAG_KEY)
        if kind not in FLAG_TYPES:
            raise ValidationError(
                f"feature flag {key}: the value must be str, int or bool",
                Code.INVALID_FEATURE_FLAG_TYPE,
            )
    return {str(k): str(v) for k, v in flags.items()}


def _lifetime(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            "authenticated_session_lifetime must be an integer (seconds)",
            Code.INVALID_AUTHENTICATED_SESSION_LIFETIME,
        )
    if not 1 <= value <= MAX_SESSION_LIFETIME:
        raise ValidationError(
            "authenticated_session_lifetime must be a positive number of seconds",
            Code.INVALID_AUTHENTICATED_SESSION_LIFETIME,
        )
    return int(value)


def _membership(data: CreateOrganizationBody | UpdateOrganizationBody) -> bool | None:
    """``is_auto_membership_enabled``, or its deprecated alias ``is_allow_registrations``."""
    current = optional_bool(data.is_auto_membership_enabled, "is_auto_membership_enabled")
    legacy = optional_bool(data.is_allow_registrations, "is_allow_registrations")
    return current if current is not None else legacy


# --- colours as Kinde shows them ------------------------------------------------


@dataclass(frozen=True)
class ColorParts:
    raw: str
    hex: str
    hsl: str


def color_parts(raw: str) -> ColorParts:
    """Kinde's colour object: the value as sent, ``#rrggbb`` and ``hsl(h, s%, l%)``."""
    digits = raw.strip().lstrip("#").lower()
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    r, g, b = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    h, lightness, s = colorsys.rgb_to_hls(r, g, b)
    hsl = f"hsl({round(h * 360) % 360}, {round(s * 100)}%, {round(lightness * 100)}%)"
    return ColorParts(raw=raw, hex="#" + digits, hsl=hsl)


def color_scheme(theme_code: str) -> str:
    return COLOR_SCHEMES.get(theme_code, "light")


# --- create, read, list --------------------------------------------------------


def validate_code(value: object) -> str:
    """A pinned organization code (``PINNED_CODE``)."""
    if not isinstance(value, str) or not PINNED_CODE.fullmatch(value):
        raise ValidationError(
            "code must be org_ and 1 to 64 letters, digits or _", derived("INVALID_ORG_CODE")
        )
    return value


def create_organization(
    storage: Storage, clock: Clock, body: Any, *, pinned_code: str | None = None
) -> Organization:
    """Kinde's ``POST /organization``: all or nothing.

    ``feature_flags`` maps existing flag keys to their type (``str|int|bool``, as the
    spec defines it); each becomes an organization override pinned to the flag's
    default value. Unknown keys, a wrong type or a flag that organizations may not
    override are refused before anything is written. Records ``organization.created``.
    ``pinned_code`` (configuration as code) is the code to give it instead of a new one
    (``validate_code``; ``ORGANIZATION_CODE_EXISTS`` when taken).
    """
    if pinned_code is not None:
        validate_code(pinned_code)
    data = decode_body(body, CreateOrganizationBody, "body must be an object")
    name = required_text(data.name, "name", NAME_MAX, "NAME")
    colors: dict[str, Any] = {f: _color(getattr(data, f), f) for f in COLOR_FIELDS}
    theme = data.theme_code
    settings = OrganizationSettings(
        **colors,
        theme_code="light" if theme is None else _theme_code(theme),
        is_auto_membership_enabled=_membership(data) or False,
        sender_name=optional_text(data.sender_name, "sender_name", SENDER_NAME_MAX, "SENDER_NAME"),
        sender_email=_sender_email(data.sender_email),
    )
    handle = _handle(data.handle)
    external_id = optional_text(data.external_id, "external_id", EXTERNAL_ID_MAX, "EXTERNAL_ID")
    flag_types = _flag_types(data.feature_flags)
    if optional_bool(data.is_create_billing_customer, "is_create_billing_customer"):
        raise ValidationError(
            "Kindling has no billing: is_create_billing_customer is not supported",
            Code.BILLING_NOT_SUPPORTED,
        )
    optional_text(data.billing_email, "billing_email", 254, "BILLING_EMAIL")
    optional_text(data.billing_plan_code, "billing_plan_code", 255, "BILLING_PLAN_CODE")
    org = Organization(
        code=pinned_code or organization_code(),
        name=name,
        created_on=isoformat(clock.now()),
        handle=handle,
        external_id=external_id,
        settings=settings,
    )
    try:
        with storage.transaction() as uow:
            overrides = _flag_overrides(uow, flag_types)
            if pinned_code is not None and uow[ORGANIZATIONS_REPO].exists(pinned_code):
                raise AlreadyExists(
                    "An organization with this code already exists", Code.ORGANIZATION_CODE_EXISTS
                )
            if handle is not None and uow[ORGANIZATIONS_REPO].handle_owner(handle) is not None:
                raise AlreadyExists(
                    "An organization with this handle already exists", Code.HANDLE_ALREADY_EXISTS
                )
            uow[ORGANIZATIONS_REPO].add(org)
            uow[ORGANIZATIONS_REPO].set_feature_flag_values(org.code, overrides)
            uow.record(
                EventType.ORGANIZATION_CREATED, {"organization": organization_event_data(org)}
            )
    except IntegrityViolation:
        if handle is None:  # a flag deleted meanwhile, or (vanishingly rare) a code clash
            raise Conflict(
                "The organization could not be created; please retry", Code.CONFLICT
            ) from None
        raise AlreadyExists(
            "An organization with this handle already exists", Code.HANDLE_ALREADY_EXISTS
        ) from None
    return org


def _flag_overrides(uow: UnitOfWork, flag_types: Mapping[str, str]) -> list[tuple[str, str]]:
    """Check the requested flags against their definitions; return (flag id, value) rows."""
    if not flag_types:
        return []
    known = uow[ORGANIZATIONS_REPO].feature_flags_by_key(list(flag_types))
    rows: list[tuple[str, str]] = []
    for key, kind in flag_types.items():
        flag = known.get(key)
        if flag is None:
            raise ValidationError(f"No feature flag has the key {key}", Code.FEATURE_FLAG_NOT_FOUND)
        if flag.type != kind:
            raise ValidationError(
                f"feature flag {key} is of type {flag.type}, not {kind}",
                Code.FEATURE_FLAG_TYPE_MISMATCH,
            )
        if flag.allow_override_level not in ("org", "usr"):
            raise ValidationError(
                f"feature flag {key} cannot be overridden by organizations",
                Code.OVERRIDE_NOT_ALLOWED,
            )
        rows.append((flag.id, flag.default_value))
    return rows


def _require(uow: UnitOfWork, code: str) -> Organization:
    org = uow[ORGANIZATIONS_REPO].get(code) if code else None
    if org is None:
        raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
    return org


@dataclass(frozen=True)
class OrganizationView:
    organization: Organization
    logos: tuple[OrganizationLogo, ...]


def get_organization(storage: Storage, code: str | None) -> OrganizationView:
    if not code:
        raise ValidationError("code is required", Code.CODE_REQUIRED)
    with storage.read() as uow:
        org = _require(uow, code)
        logos = uow[ORGANIZATIONS_REPO].logos(code)
    return OrganizationView(org, tuple(logos))


def list_organizations(
    storage: Storage, after: int | None, size: int
) -> tuple[list[Organization], int | None]:
    """Organizations in creation order."""
    with storage.read() as uow:
        rows = uow[ORGANIZATIONS_REPO].list_page(after, size + 1)
    return page(rows, size)


def list_organizations_by_name(
    storage: Storage, after: tuple[str, int] | None, size: int, descending: bool
) -> tuple[list[Organization], tuple[str, int] | None]:
    """Organizations sorted by name, keyset-paged."""
    with storage.read() as uow:
        rows = uow[ORGANIZATIONS_REPO].list_by_name(after, size + 1, descending)
    return page(rows, size)


# --- update, delete, handle -----------------------------------------------------


def _settings_changes(data: UpdateOrganizationBody) -> dict[str, Any]:
    """Validate the settings fields of ``PATCH /organization/{code}``."""
    changes: dict[str, Any] = {}
    for f in COLOR_FIELDS:
        value = getattr(data, f)
        if given(value):
            changes[f] = _color(value, f)
    if data.theme_code is not None:
        changes["theme_code"] = _theme_code(data.theme_code)
    membership = _membership(data)
    if membership is not None:
        changes["is_auto_membership_enabled"] = membership
    for flag, raw in (
        ("is_auto_join_domain_list", data.is_auto_join_domain_list),
        ("is_enable_advanced_orgs", data.is_enable_advanced_orgs),
        ("is_enforce_mfa", data.is_enforce_mfa),
    ):
        value = optional_bool(raw, flag)
        if value is not None:
            changes[flag] = value
    if data.allowed_domains is not None:
        changes["allowed_domains"] = _domains(data.allowed_domains)
    if given(data.sender_name):
        changes["sender_name"] = optional_text(
            data.sender_name, "sender_name", SENDER_NAME_MAX, "SENDER_NAME"
        )
    if given(data.sender_email):
        changes["sender_email"] = _sender_email(data.sender_email)
    return changes


def update_organization(storage: Storage, clock: Clock, code: str, body: Any) -> Organization:
    """Apply Kinde's ``PATCH /organization/{org_code}``; absent fields keep their value.

    Records ``organization.updated`` (the organization after the change and the names of
    the fields and settings that changed) unless nothing changed.
    """
    data = decode_body(body, UpdateOrganizationBody, "body must be an object")
    row: dict[str, Any] = {}
    if data.name is not None:
        row["name"] = required_text(data.name, "name", NAME_MAX, "NAME")
    if given(data.external_id):
        row["external_id"] = optional_text(
            data.external_id, "external_id", EXTERNAL_ID_MAX, "EXTERNAL_ID"
        )
    if given(data.handle):
        row["handle"] = _handle(data.handle)
    settings = _settings_changes(data)
    suspend = optional_bool(data.is_suspended, "is_suspended")
    now = isoformat(clock.now())
    try:
        with storage.transaction() as uow:
            org = _require(uow, code)
            handle = row.get("handle")
            if handle is not None and uow[ORGANIZATIONS_REPO].handle_owner(handle) not in (
                None,
                code,
            ):
                raise AlreadyExists(
                    "An organization with this handle already exists", Code.HANDLE_ALREADY_EXISTS
                )
            if suspend is not None and suspend != org.is_suspended:
                if suspend and org.is_default:
                    raise ValidationError(
                        "The default organization cannot be suspended",
                        Code.CANNOT_SUSPEND_DEFAULT_ORGANIZATION,
                    )
                row["is_suspended"] = suspend
                settings["suspended_on"] = now if suspend else None
            updated = replace(org, **row, settings=replace(org.settings, **settings))
            uow[ORGANIZATIONS_REPO].update(updated)
            _record_updated(uow, org, updated)
    except IntegrityViolation:
        raise AlreadyExists(
            "An organization with this handle already exists", Code.HANDLE_ALREADY_EXISTS
        ) from None
    return updated


def delete_organization(storage: Storage, code: str) -> None:
    """Delete the organization; memberships, invites, logos and overrides go with it, and
    so do its organization-scoped M2M applications.

    An application created with this ``org_code`` exists only to reach this
    organization; left behind, its tokens would reach nothing (Kinde's deleteOrganization
    declares no error for it, so the delete goes ahead rather than being refused). The
    applications are deleted in the same transaction with their secrets, API
    authorizations and scope grants, each recording ``application.deleted``; their
    unexpired tokens stop working at the next Management API call. Then
    ``organization.deleted`` is recorded; the rest of what goes with the organization
    records nothing further.

    The organization row is deleted before its applications are looked up: on PostgreSQL
    that waits for any transaction still creating an application for it (which
    share-locks the row), so such an application is found and deleted too, or its
    creation fails with ``ORGANIZATION_NOT_FOUND``.
    """
    with storage.transaction() as uow:
        org = _require(uow, code)
        if org.is_default:
            raise ValidationError(
                "The default organization cannot be deleted",
                Code.CANNOT_DELETE_DEFAULT_ORGANIZATION,
            )
        uow[ORGANIZATIONS_REPO].delete(code)
        delete_organization_applications(uow, code)
        uow.record(
            EventType.ORGANIZATION_DELETED, {"organization": {"code": org.code, "name": org.name}}
        )


def delete_handle(storage: Storage, code: str) -> None:
    """Remove the handle; records ``organization.updated`` when there was one."""
    with storage.transaction() as uow:
        org = _require(uow, code)
        if org.handle is not None:
            updated = replace(org, handle=None)
            uow[ORGANIZATIONS_REPO].update(updated)
            _record_updated(uow, org, updated)


# --- policies: sessions, MFA, passkeys ------------------------------------------


def _update_settings(storage: Storage, code: str, changes: Mapping[str, Any]) -> Organization:
    """Apply validated settings; records ``organization.updated`` when one changed."""
    with storage.transaction() as uow:
        org = _require(uow, code)
        updated = replace(org, settings=replace(org.settings, **changes))
        uow[ORGANIZATIONS_REPO].update(updated)
        _record_updated(uow, org, updated)
    return updated


def update_sessions(storage: Storage, code: str, body: Any) -> Organization:
    """Kinde's ``PATCH /organizations/{org_code}/sessions``; records ``organization.updated``."""
    data = decode_body(body, SessionsBody, "body must be an object")
    changes: dict[str, Any] = {}
    for flag, raw in (
        ("is_use_org_sso_session_policy", data.is_use_org_sso_session_policy),
        (
            "is_use_org_authenticated_session_lifetime",
            data.is_use_org_authenticated_session_lifetime,
        ),
    ):
        value = optional_bool(raw, flag)
        if value is not None:
            changes[flag] = value
    mode = data.sso_session_persistence_mode
    if mode is not None:
        if mode not in SSO_PERSISTENCE_MODES:
            raise ValidationError(
                "sso_session_persistence_mode must be persistent or non_persistent",
                Code.INVALID_SSO_SESSION_PERSISTENCE_MODE,
            )
        changes["sso_session_persistence_mode"] = mode
    if data.authenticated_session_lifetime is not None:
        changes["authenticated_session_lifetime"] = _lifetime(data.authenticated_session_lifetime)
    if not changes:
        raise ValidationError("no session setting to update", Code.NO_FIELDS_TO_UPDATE)
    with storage.transaction() as uow:
        org = _require(uow, code)
        settings = replace(org.settings, **changes)
        if settings.is_use_org_sso_session_policy and settings.sso_session_persistence_mode is None:
            raise ValidationError(
                "sso_session_persistence_mode is required to use the organization's SSO policy",
                Code.SSO_SESSION_PERSISTENCE_MODE_REQUIRED,
            )
        if (
            settings.is_use_org_authenticated_session_lifetime
            and settings.authenticated_session_lifetime is None
        ):
            raise ValidationError(
                "authenticated_session_lifetime is required to use the organization's lifetime",
                Code.AUTHENTICATED_SESSION_LIFETIME_REQUIRED,
            )
        updated = replace(org, settings=settings)
        uow[ORGANIZATIONS_REPO].update(updated)
        _record_updated(uow, org, updated)
    return updated


def replace_mfa(storage: Storage, code: str, body: Any) -> Organization:
    """Kinde's ``PUT /organizations/{org_code}/mfa``: the enabled factors, replaced."""
    data = decode_body(body, MfaBody, "body must be an object")
    factors = data.enabled_factors
    if factors is None:
        raise ValidationError("enabled_factors is required", Code.ENABLED_FACTORS_REQUIRED)
    if not isinstance(factors, list):
        raise ValidationError("enabled_factors must be a list", Code.INVALID_ENABLED_FACTORS)
    enabled: list[str] = []
    for factor in factors:
        if factor not in MFA_FACTORS:
            raise ValidationError(
                "enabled_factors accepts mfa:email, mfa:sms and mfa:authenticator_app",
                Code.INVALID_MFA_FACTOR,
            )
        if factor not in enabled:
            enabled.append(factor)
    recovery = optional_bool(data.is_recovery_codes_enabled, "is_recovery_codes_enabled")
    return _update_settings(
        storage,
        code,
        {
            "mfa_enabled_factors": tuple(enabled),
            "mfa_recovery_codes_enabled": True if recovery is None else recovery,
        },
    )


@dataclass(frozen=True)
class PasskeySettings:
    enabled: bool
    policy: str
    is_override: bool
    environment_policy: str


def passkey_settings(org: Organization) -> PasskeySettings:
    s = org.settings
    policy = s.passkey_policy if s.passkey_override and s.passkey_policy else None
    effective = policy or ENVIRONMENT_PASSKEY_POLICY
    return PasskeySettings(
        enabled=effective != "off",
        policy=effective,
        is_override=policy is not None,
        environment_policy=ENVIRONMENT_PASSKEY_POLICY,
    )


def get_passkey(storage: Storage, code: str) -> PasskeySettings:
    with storage.read() as uow:
        return passkey_settings(_require(uow, code))


def update_passkey(storage: Storage, code: str, body: Any) -> PasskeySettings:
    """Kinde's ``PUT /organizations/{org_code}/passkey``.

    ``is_override_environment_passkey_settings: false`` reverts to the environment's
    policy (a policy sent along is ignored); a policy alone implies overriding.
    """
    data = decode_body(body, PasskeyBody, "body must be an object")
    override = optional_bool(
        data.is_override_environment_passkey_settings,
        "is_override_environment_passkey_settings",
    )
    policy = data.policy
    if policy is not None and policy not in PASSKEY_POLICIES:
        raise ValidationError("policy must be off, optional or mandatory", Code.INVALID_POLICY)
    if override is None and policy is None:
        raise ValidationError(
            "send policy or is_override_environment_passkey_settings", Code.NO_FIELDS_TO_UPDATE
        )
    if override is False:
        changes: dict[str, Any] = {"passkey_override": False, "passkey_policy": None}
    else:
        if policy is None:
            raise ValidationError("policy is required to override", Code.POLICY_REQUIRED)
        changes = {"passkey_override": True, "passkey_policy": policy}
    return passkey_settings(_update_settings(storage, code, changes))


# --- logos -----------------------------------------------------------------------


def sniff_image(data: bytes) -> str | None:
    """The image type from the bytes themselves (never from a header), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/svg+xml" if _is_svg(data) else None


def _is_svg(data: bytes) -> bool:
    """An SVG document: optional prolog (XML declaration, comments, doctype), then ``<svg``.

    A linear scan rather than a regular expression, so no input can make it slow.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        for opener, closer in (("<?xml", "?>"), ("<!--", "-->"), ("<!doctype", ">")):
            if text[at : at + len(opener)].lower() == opener:
                end = text.find(closer, at + len(opener))
                if end < 0:
                    return False
                at = end + len(closer)
                break
        else:
            break
    if text[at : at + 4].lower() != "<svg" or not (
        at + 4 < len(text) and (text[at + 4].isspace() or text[at + 4] in ">/")
    ):
        return False
    # A logo is shown on sign-in pages: refuse active content.
    lowered = text.lower()
    return "<script" not in lowered and "javascript:" not in lowered


def check_logo(type_: str, data: bytes) -> str:
    """Validate a light or dark logo (size, real image type); return its content type."""
    if type_ not in LOGO_TYPES:
        raise ValidationError("the logo type must be light or dark", Code.INVALID_LOGO_TYPE)
    if not data:
        raise ValidationError("logo is required", Code.LOGO_REQUIRED)
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationError("the logo must be at most 1 MiB", Code.LOGO_TOO_LARGE)
    content_type = sniff_image(data)
    if content_type is None:
        raise ValidationError(
            "the logo must be a PNG, JPEG, WebP, GIF or SVG image", Code.INVALID_LOGO_FORMAT
        )
    return content_type


def set_logo(storage: Storage, clock: Clock, code: str, type_: str, data: bytes) -> None:
    """Store (or replace) the light or dark logo; the type is sniffed from the bytes.

    Records ``organization.logo_updated`` (its type and content type, never the bytes).
    """
    content_type = check_logo(type_, data)
    with storage.transaction() as uow:
        _require(uow, code)
        uow[ORGANIZATIONS_REPO].set_logo(
            OrganizationLogo(code, type_, content_type, isoformat(clock.now())), data
        )
        uow.record(
            EventType.ORGANIZATION_LOGO_UPDATED,
            {"organization": {"code": code}, "logo": {"type": type_, "content_type": content_type}},
        )


def list_logos(storage: Storage, code: str) -> list[OrganizationLogo]:
    with storage.read() as uow:
        _require(uow, code)
        return uow[ORGANIZATIONS_REPO].logos(code)


def delete_logo(storage: Storage, code: str, type_: str) -> bool:
    """Delete one logo; False when there was none. Records ``organization.logo_deleted``."""
    if type_ not in LOGO_TYPES:
        raise ValidationError("the logo type must be light or dark", Code.INVALID_LOGO_TYPE)
    with storage.transaction() as uow:
        _require(uow, code)
        deleted = uow[ORGANIZATIONS_REPO].delete_logo(code, type_)
        if deleted:
            uow.record(
                EventType.ORGANIZATION_LOGO_DELETED,
                {"organization": {"code": code}, "logo": {"type": type_}},
            )
        return deleted


# --- connections -----------------------------------------------------------------


def list_connections(storage: Storage, code: str) -> list[Connection]:
    with storage.read() as uow:
        _require(uow, code)
        return uow[ORGANIZATIONS_REPO].connections(code)


def set_connection(storage: Storage, code: str, connection_id: str, enabled: bool) -> bool:
    """Enable or disable a connection for an organization; False when already so.

    Records ``organization.connection_enabled`` or ``organization.connection_disabled``
    when it changed.
    """
    with storage.transaction() as uow:
        _require(uow, code)
        if find_connection(uow, connection_id) is None:
            raise NotFound("Connection not found", Code.CONNECTION_NOT_FOUND)
        if enabled:
            changed = uow[ORGANIZATIONS_REPO].enable_connection(code, connection_id)
        else:
            changed = uow[ORGANIZATIONS_REPO].disable_connection(code, connection_id)
        if changed:
            uow.record(
                EventType.ORGANIZATION_CONNECTION_ENABLED
                if enabled
                else EventType.ORGANIZATION_CONNECTION_DISABLED,
                {"organization": {"code": code}, "connection": {"id": connection_id}},
            )
        return changed


# --- for other resources ---------------------------------------------------------------


def organization_logo(uow: UnitOfWork, code: str, type_: str) -> tuple[str, bytes] | None:
    """The content type and bytes of the organization's light or dark logo, or None.

    Runs in the caller's unit of work; the environment's logo addresses serve an
    organization's logo through this rather than through the organizations repository.
    """
    for logo in uow[ORGANIZATIONS_REPO].logos(code):
        if logo.type == type_:
            data = uow[ORGANIZATIONS_REPO].logo_data(code, type_)
            return None if data is None else (logo.content_type, data)
    return None
