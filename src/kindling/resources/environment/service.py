"""The environment: its description, logos and passkey policy.

Kindling serves one environment per database. Its issuer is the public base URL;
branding fields Kindling does not use are answered with their defaults.

Changes record ``environment.updated`` (the passkey policy, when it changes),
``environment.logo_updated`` and ``environment.logo_deleted`` in their transaction;
logo events name the logo, never carry its bytes.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kindling.clock import Clock, isoformat
from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.storage import Storage
from kindling.resources.environment.repository import ENVIRONMENT_REPO
from kindling.resources.organizations.service import LOGO_TYPES, check_logo, organization_logo

PASSKEY_POLICIES = ("off", "optional", "mandatory")


@dataclass(frozen=True)
class EnvironmentView:
    issuer: str
    created_on: str
    settings: dict[str, Any]
    logos: list[tuple[str, str, str]]


def get_environment(storage: Storage) -> EnvironmentView:
    with storage.read() as uow:
        return EnvironmentView(
            issuer=uow[ENVIRONMENT_REPO].get_issuer() or "",
            created_on=uow[ENVIRONMENT_REPO].created_on() or "",
            settings=uow[ENVIRONMENT_REPO].settings(),
            logos=uow[ENVIRONMENT_REPO].logos(),
        )


def kinde_domain(issuer: str) -> str:
    """The host (and port) the environment is served on, as Kinde's ``kinde_domain``."""
    return urlsplit(issuer).netloc


def set_logo(storage: Storage, clock: Clock, type_: str, data: bytes) -> None:
    content_type = check_logo(type_, data)
    with storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_logo(type_, content_type, data, isoformat(clock.now()))
        uow.record(
            EventType.ENVIRONMENT_LOGO_UPDATED,
            {"logo": {"type": type_, "content_type": content_type}},
        )


def delete_logo(storage: Storage, type_: str) -> bool:
    if type_ not in LOGO_TYPES:
        raise ValidationError("the logo type must be light or dark", Code.INVALID_LOGO_TYPE)
    with storage.transaction() as uow:
        deleted = uow[ENVIRONMENT_REPO].delete_logo(type_)
        if deleted:
            uow.record(EventType.ENVIRONMENT_LOGO_DELETED, {"logo": {"type": type_}})
        return deleted


def passkey_policy(storage: Storage) -> str:
    with storage.read() as uow:
        policy = uow[ENVIRONMENT_REPO].settings().get("passkey_policy", "off")
    return str(policy)


def set_passkey_policy(storage: Storage, policy: object) -> str:
    if policy not in PASSKEY_POLICIES:
        raise ValidationError("policy must be off, optional or mandatory", Code.INVALID_POLICY)
    with storage.transaction() as uow:
        settings = uow[ENVIRONMENT_REPO].settings()
        before = settings.get("passkey_policy", "off")
        settings["passkey_policy"] = policy
        uow[ENVIRONMENT_REPO].set_settings(settings)
        if policy != before:
            uow.record(
                EventType.ENVIRONMENT_UPDATED,
                {"environment": {"passkey_policy": policy}, "updated_fields": ["passkey_policy"]},
            )
    return str(policy)


def logo_image(storage: Storage, org_code: str | None, type_: str) -> tuple[str, bytes] | None:
    """The bytes behind Kinde's logo addresses: an organization's, else the environment's."""
    with storage.read() as uow:
        if org_code is None:
            return uow[ENVIRONMENT_REPO].logo_data(type_)
        return organization_logo(uow, org_code, type_)


def recorded_issuer(storage: Storage) -> str | None:
    """The issuer recorded in storage, or None before first run."""
    with storage.read() as uow:
        return uow[ENVIRONMENT_REPO].get_issuer()
