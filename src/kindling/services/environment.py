"""The environment: its description, logos and passkey policy.

Kindling serves one environment per database. Its issuer is the public base URL;
branding fields Kindling does not use are answered with their defaults.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kindling.clock import Clock, isoformat
from kindling.errors import ValidationError
from kindling.services.organizations import LOGO_TYPES, check_logo
from kindling.storage import Storage

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
            issuer=uow.environment.get_issuer() or "",
            created_on=uow.environment.created_on() or "",
            settings=uow.environment.settings(),
            logos=uow.environment.logos(),
        )


def kinde_domain(issuer: str) -> str:
    """The host (and port) the environment is served on, as Kinde's ``kinde_domain``."""
    return urlsplit(issuer).netloc


def set_logo(storage: Storage, clock: Clock, type_: str, data: bytes) -> None:
    content_type = check_logo(type_, data)
    with storage.transaction() as uow:
        uow.environment.set_logo(type_, content_type, data, isoformat(clock.now()))


def delete_logo(storage: Storage, type_: str) -> bool:
    if type_ not in LOGO_TYPES:
        raise ValidationError("the logo type must be light or dark", "INVALID_LOGO_TYPE")
    with storage.transaction() as uow:
        return uow.environment.delete_logo(type_)


def passkey_policy(storage: Storage) -> str:
    with storage.read() as uow:
        policy = uow.environment.settings().get("passkey_policy", "off")
    return str(policy)


def set_passkey_policy(storage: Storage, policy: object) -> str:
    if policy not in PASSKEY_POLICIES:
        raise ValidationError("policy must be off, optional or mandatory", "INVALID_POLICY")
    with storage.transaction() as uow:
        settings = uow.environment.settings()
        settings["passkey_policy"] = policy
        uow.environment.set_settings(settings)
    return str(policy)


def logo_image(storage: Storage, org_code: str | None, type_: str) -> tuple[str, bytes] | None:
    """The bytes behind Kinde's logo addresses: an organization's, else the environment's."""
    with storage.read() as uow:
        if org_code is None:
            return uow.environment.logo_data(type_)
        for logo in uow.organizations.logos(org_code):
            if logo.type == type_:
                data = uow.organizations.logo_data(org_code, type_)
                return None if data is None else (logo.content_type, data)
    return None
