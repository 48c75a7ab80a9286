"""SCIM directories: create, read, list, rename, delete; the bearer token is shown once.

Kinde's SCIM provisioning gives an organization one directory, into which its
identity provider (Entra ID, Okta, Google Workspace, ...) pushes users and groups over
SCIM 2.0 (RFC 7644). The provisioned users sign in through one of the organization's
enterprise connections, so a directory needs the organization to have at least one
enabled (``NO_ENTERPRISE_CONNECTIONS``), and names which one when there are several
(``ENTERPRISE_CONNECTION_REQUIRED``, ``INVALID_ENTERPRISE_CONNECTION``). Enterprise
connections are the Microsoft Entra ID (``oauth2:azure_ad``, ``wsfed:azure_ad``) and
SAML (``saml:*``) strategies (``connections.model.is_enterprise``); social ones do not
count, and "enabled" means enabled for the organization (its connections list).
A second directory for an organization is ``DIRECTORY_EXISTS`` (409).

A directory is created ``Pending`` (its provider has not synced yet) with a SCIM
endpoint id (``ksde_<32 hex>``) and a bearer token (``kstkn_<64 hex>``, 256 random
bits: RFC 6749 §10.10 asks for no better than a 2^-160 chance of guessing one). The
token is in the creation response only; Kindling stores its keyed hash (the server's
secret hasher, HMAC-SHA256 peppered from the master key), so reads never show it and
a leaked database does not give it away. ``authenticate`` checks a presented token.

The spec declares 404 for the item operations (``DIRECTORY_NOT_FOUND``) but not for
the create, where an unknown organization is a 400 ``ORGANIZATION_NOT_FOUND``.

Each change records ``directory.created``, ``.updated`` or ``.deleted`` in its
transaction; no event holds the token or its hash. A rename to the current name
records nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.crypto.client_secrets import SecretHasher
from kindling.platform.bodies import Body, decode_body
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import hex_id
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import required_text
from kindling.resources.connections.model import Connection, is_enterprise
from kindling.resources.directories.model import PROVIDERS, Directory
from kindling.resources.directories.repository import DIRECTORIES_REPO

NAME_MAX = 128
ID_MAX = 128
TOKEN_PREFIX = "kstkn_"


@dataclass(frozen=True)
class IssuedDirectory:
    """A new directory and its bearer token, which exists nowhere else after this."""

    directory: Directory
    secret_token: str


class CreateDirectoryBody(Body, frozen=True):
    """``POST /directories``: a null or absent field means "not given"."""

    org_code: object = None
    directory_name: object = None
    provider_code: object = None
    enterprise_connection_id: object = None


class UpdateDirectoryBody(Body, frozen=True):
    """``PATCH /directories/{id}``."""

    directory_name: object = None


def directory_data(directory: Directory) -> dict[str, Any]:
    """A directory as its events show it: never the token or its hash."""
    return {
        "id": directory.id,
        "directory_name": directory.directory_name,
        "provider_code": directory.provider_code,
        "status": directory.status,
        "organization_code": directory.organization_code,
        "enterprise_connection_id": directory.enterprise_connection_id,
        "directory_endpoint_id": directory.directory_endpoint_id,
    }


def _name(value: Any) -> str:
    return required_text(value, "directory_name", NAME_MAX, "DIRECTORY_NAME")


def _org_code(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError("org_code is required", Code.ORGANIZATION_REQUIRED)
    if not isinstance(value, str):
        raise ValidationError("org_code must be a string", derived("INVALID_ORG_CODE"))
    if len(value) > ID_MAX:
        raise ValidationError("org_code names no organization", Code.ORGANIZATION_NOT_FOUND)
    return value.strip()


def _provider(value: Any) -> str:
    if value is None or value == "":
        raise ValidationError("provider_code is required", Code.PROVIDER_CODE_REQUIRED)
    if value not in PROVIDERS:
        raise ValidationError(
            f"provider_code must be one of {', '.join(PROVIDERS)}", Code.INVALID_PROVIDER
        )
    return str(value)


def _connection_id(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > ID_MAX:
        raise ValidationError(
            "enterprise_connection_id names no enabled enterprise connection of the organization",
            Code.INVALID_ENTERPRISE_CONNECTION,
        )
    return value.strip()


def _exists() -> AlreadyExists:
    return AlreadyExists("The organization already has a SCIM directory", Code.DIRECTORY_EXISTS)


def _not_found() -> NotFound:
    return NotFound("Directory not found", Code.DIRECTORY_NOT_FOUND)


def _directory_id(value: str) -> str:
    if not value.strip():
        raise ValidationError("directory_id is required", Code.DIRECTORY_ID_REQUIRED)
    return value


def _pick_connection(uow: UnitOfWork, org_code: str, wanted: str | None) -> Connection:
    """The enterprise connection the organization's directory provisions into."""
    enabled = [
        c for c in uow[DIRECTORIES_REPO].enabled_connections(org_code) if is_enterprise(c.strategy)
    ]
    if not enabled:
        raise ValidationError(
            "the organization has no enabled enterprise connection: enable one first",
            Code.NO_ENTERPRISE_CONNECTIONS,
        )
    if wanted is not None:
        for connection in enabled:
            if connection.id == wanted:
                return connection
        raise ValidationError(
            "enterprise_connection_id names no enabled enterprise connection of the organization",
            Code.INVALID_ENTERPRISE_CONNECTION,
        )
    if len(enabled) > 1:
        raise ValidationError(
            "the organization has several enterprise connections: choose one with "
            "enterprise_connection_id",
            Code.ENTERPRISE_CONNECTION_REQUIRED,
        )
    return enabled[0]


def create_directory(
    storage: Storage, hasher: SecretHasher, clock: Clock, body: Any
) -> IssuedDirectory:
    data = decode_body(body, CreateDirectoryBody)
    org_code = _org_code(data.org_code)
    name = _name(data.directory_name)
    provider = _provider(data.provider_code)
    wanted = _connection_id(data.enterprise_connection_id)
    token = TOKEN_PREFIX + secrets.token_hex(32)
    try:
        with storage.transaction() as uow:
            repo = uow[DIRECTORIES_REPO]
            if not repo.organization_exists(org_code):
                raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
            if repo.get_by_organization(org_code) is not None:
                raise _exists()
            connection = _pick_connection(uow, org_code, wanted)
            directory = Directory(
                id="directory_" + hex_id(),
                directory_name=name,
                provider_code=provider,
                organization_code=org_code,
                directory_endpoint_id="ksde_" + hex_id(),
                status="Pending",
                created_on=isoformat(clock.now()),
                token_hash=hasher.hash(token),
                enterprise_connection_id=connection.id,
                enterprise_connection_name=connection.display_name or connection.name,
            )
            repo.add(directory)
            uow.record(EventType.DIRECTORY_CREATED, {"directory": directory_data(directory)})
    except IntegrityViolation:
        # The one constraint a concurrent request can break here: one directory per org.
        raise _exists() from None
    return IssuedDirectory(directory, token)


def get_directory(storage: Storage, directory_id: str) -> Directory:
    _directory_id(directory_id)
    with storage.read() as uow:
        directory = uow[DIRECTORIES_REPO].get(directory_id)
    if directory is None:
        raise _not_found()
    return directory


def list_directories(
    storage: Storage, starting_after: str | None, size: int, org_code: str | None
) -> tuple[list[Directory], bool]:
    """A page of directories in creation order (an organization's only, if given) and
    whether more follow; ``starting_after`` must name a directory."""
    with storage.read() as uow:
        after = None
        if starting_after:
            after = uow[DIRECTORIES_REPO].seq_of(starting_after)
            if after is None:
                raise ValidationError(
                    "starting_after names no directory", Code.INVALID_STARTING_AFTER
                )
        rows = uow[DIRECTORIES_REPO].list_page(after, size + 1, org_code or None)
    return [directory for _, directory in rows[:size]], len(rows) > size


def update_directory(storage: Storage, directory_id: str, body: Any) -> Directory:
    """Rename the directory (``directory_name`` is the one field it takes)."""
    _directory_id(directory_id)
    data = decode_body(body, UpdateDirectoryBody)
    if data.directory_name is None:
        raise ValidationError("give directory_name", Code.NO_FIELDS_TO_UPDATE)
    name = _name(data.directory_name)
    with storage.transaction() as uow:
        current = uow[DIRECTORIES_REPO].get(directory_id)
        if current is None:
            raise _not_found()
        if name == current.directory_name:
            return current
        uow[DIRECTORIES_REPO].rename(directory_id, name)
        updated = replace(current, directory_name=name)
        uow.record(
            EventType.DIRECTORY_UPDATED,
            {"directory": directory_data(updated), "updated_fields": ["directory_name"]},
        )
    return updated


def delete_directory(storage: Storage, directory_id: str) -> None:
    """Delete the directory; its token stops authenticating at once."""
    _directory_id(directory_id)
    with storage.transaction() as uow:
        current = uow[DIRECTORIES_REPO].get(directory_id)
        if current is None:
            raise _not_found()
        uow[DIRECTORIES_REPO].delete(directory_id)
        uow.record(
            EventType.DIRECTORY_DELETED,
            {"directory": {"id": current.id, "organization_code": current.organization_code}},
        )


# --- for the server itself ---------------------------------------------------------------


def authenticate(
    storage: Storage, hasher: SecretHasher, endpoint_id: str, token: str
) -> Directory | None:
    """The directory of ``endpoint_id`` if ``token`` is its bearer token, else None.

    What a SCIM endpoint checks before serving a provider's request (RFC 7644 §2: the
    service provider authenticates the client; RFC 6750 bearer tokens). The comparison
    is of keyed hashes, in constant time (``SecretHasher.verify``).
    """
    with storage.read() as uow:
        directory = uow[DIRECTORIES_REPO].get_by_endpoint(endpoint_id)
    if directory is None or not hasher.verify(token, directory.token_hash):
        return None
    return directory
