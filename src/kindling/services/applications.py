"""Applications: create (secret shown once), list, get, secrets.

An M2M application's id doubles as its OAuth client id (Kinde: 32 hex
characters). Its secret is returned in clear only by ``create_application`` and
``rotate_secret``; storage keeps a keyed hash.
"""

from dataclasses import dataclass

from kindling.clock import Clock, isoformat
from kindling.crypto.client_secrets import SecretHasher, generate_client_secret
from kindling.errors import NotFound, ValidationError
from kindling.ids import client_id, secret_id
from kindling.models import APPLICATION_TYPES, Application, ApplicationSecret
from kindling.services.pagination import page
from kindling.services.validation import optional_text, required_text
from kindling.storage import Storage
from kindling.storage.base import UnitOfWork

NAME_MAX = 128


@dataclass(frozen=True)
class CreatedApplication:
    application: Application
    client_secret: str


def add_application(
    uow: UnitOfWork,
    hasher: SecretHasher,
    clock: Clock,
    name: object,
    type_: object,
    org_code: object = None,
) -> CreatedApplication:
    """Validate and insert an application with a fresh secret, inside ``uow``."""
    clean_name = required_text(name, "name", NAME_MAX, "NAME")
    if type_ is None:
        raise ValidationError("type is required", "TYPE_REQUIRED")
    if type_ not in APPLICATION_TYPES:
        raise ValidationError(
            "type must be one of " + ", ".join(APPLICATION_TYPES), "INVALID_APPLICATION_TYPE"
        )
    clean_org = optional_text(org_code, "org_code", 64, "ORG_CODE")
    now = isoformat(clock.now())
    application = Application(
        id=client_id(), name=clean_name, type=str(type_), created_on=now, org_code=clean_org
    )
    secret = generate_client_secret()
    uow.applications.add(application)
    uow.applications.add_secret(
        ApplicationSecret(
            id=secret_id(),
            application_id=application.id,
            secret_hash=hasher.hash(secret),
            created_on=now,
        )
    )
    return CreatedApplication(application, secret)


def create_application(
    storage: Storage,
    hasher: SecretHasher,
    clock: Clock,
    name: object,
    type_: object,
    org_code: object = None,
) -> CreatedApplication:
    with storage.transaction() as uow:
        return add_application(uow, hasher, clock, name, type_, org_code)


def get_application(storage: Storage, application_id: str) -> Application:
    with storage.read() as uow:
        application = uow.applications.get(application_id)
    if application is None:
        raise NotFound("Application not found", "APPLICATION_NOT_FOUND")
    return application


def list_applications(
    storage: Storage, after: int | None, size: int
) -> tuple[list[Application], int | None]:
    """Applications in creation order."""
    with storage.read() as uow:
        rows = uow.applications.list_page(after, size + 1)
    return page(rows, size)


def list_applications_by_name(
    storage: Storage, after: tuple[str, int] | None, size: int, descending: bool
) -> tuple[list[Application], tuple[str, int] | None]:
    """Applications sorted by name (Kinde's ``sort=name_asc|name_desc``), keyset-paged."""
    with storage.read() as uow:
        rows = uow.applications.list_by_name(after, size + 1, descending)
    return page(rows, size)
