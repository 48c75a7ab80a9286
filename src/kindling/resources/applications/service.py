"""Applications: create (secret shown once), list, get, secrets.

An M2M application's id doubles as its OAuth client id (Kinde: 32 hex
characters). Its secret is returned in clear only by ``create_application`` and
``rotate_secret``; storage keeps a keyed hash.

Every change records its event in its transaction (``application.created``,
``.updated`` with the fields that changed, ``.deleted``, ``.secret_rotated``, and the
access role and connection events); none of them carries a secret or its hash.

Role-based access control (allowed access roles, ``is_access_control_enabled``) is for
applications people sign in to: front-end (``spa``), back-end (``reg``) and device apps.
Kinde refuses it for M2M applications (``APPLICATION_TYPE_NOT_SUPPORTED`` when adding an
access role, ``ACCESS_CONTROL_NOT_SUPPORTED`` when enabling it), and enabling it needs at
least one allowed role first (``ACCESS_ROLES_REQUIRED``).

The PATCH bodies stay plain dicts: their fields are the named settings below
(``BOOL_SETTINGS``, ``TEXT_SETTINGS``, the token lifetimes), walked by name, so a body
Struct would only repeat those tuples field by field.
"""

import hmac
import re
from dataclasses import dataclass, replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.crypto.client_secrets import SecretHasher, generate_client_secret
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import client_id, secret_id
from kindling.platform.pagination import page
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import optional_text, required_text
from kindling.resources.applications.model import APPLICATION_TYPES, Application, ApplicationSecret
from kindling.resources.applications.repository import APPLICATIONS_REPO

NAME_MAX = 128
#: A pinned client id (configuration as code: ``kindling apply``, ``serve --seed``): 3 to 64
#: ASCII letters, digits, ``_ . -``, starting with a letter or digit. That keeps it safe in
#: a URL path, in HTTP Basic credentials (no ``:``) and in a token's ``azp``, and it may
#: not start with ``kp_``, so a client id is never mistaken for a user id (RFC 9700 §4.15).
PINNED_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{2,63}")
#: A pinned client secret: 32 to 256 printable ASCII characters without spaces (RFC 6749
#: §2.3.1 sends it form-encoded or in Basic credentials; 32 characters of a CI secret are
#: the least that resists guessing).
PINNED_SECRET = re.compile(r"[\x21-\x7e]{32,256}")
#: A stored secret hash as ``kindling export`` writes it (``crypto.client_secrets``'s scheme).
SECRET_HASH = re.compile(r"hmac-sha256\$v1\$[0-9a-f]{64}")


@dataclass(frozen=True)
class CreatedApplication:
    application: Application
    client_secret: str


def application_data(application: Application) -> dict[str, Any]:
    """An application as its events show it; never a secret."""
    return {
        "id": application.id,
        "name": application.name,
        "type": application.type,
        "org_code": application.org_code,
    }


def _record_update(uow: UnitOfWork, application: Application, fields: list[str]) -> None:
    if fields:
        uow.record(
            EventType.APPLICATION_UPDATED,
            {"application": application_data(application), "updated_fields": fields},
        )


def validate_client_id(value: object) -> str:
    """A pinned client id (``PINNED_CLIENT_ID``), as configuration as code gives one."""
    if not isinstance(value, str) or not value:
        raise ValidationError("client_id is required", derived("CLIENT_ID_REQUIRED"))
    if not PINNED_CLIENT_ID.fullmatch(value) or value.lower().startswith("kp_"):
        raise ValidationError(
            "client_id must be 3 to 64 letters, digits, _ . or -, start with a letter or "
            "digit, and not start with kp_",
            derived("INVALID_CLIENT_ID"),
        )
    return value


def validate_client_secret(value: object) -> str:
    """A pinned client secret (``PINNED_SECRET``); the message never repeats it."""
    if not isinstance(value, str) or not value:
        raise ValidationError("client_secret is required", Code.CLIENT_SECRET_REQUIRED)
    if len(value) < 32:
        raise ValidationError(
            "client_secret must be at least 32 characters", derived("CLIENT_SECRET_TOO_SHORT")
        )
    if not PINNED_SECRET.fullmatch(value):
        raise ValidationError(
            "client_secret must be at most 256 printable ASCII characters without spaces",
            derived("INVALID_CLIENT_SECRET"),
        )
    return value


def validate_secret_hash(value: object) -> str:
    """A stored secret hash as exported (``hmac-sha256$v1$`` and 64 hex digits)."""
    if not isinstance(value, str) or not SECRET_HASH.fullmatch(value):
        raise ValidationError(
            "client_secret_hash must be a hash written by kindling export "
            "(hmac-sha256$v1$ and 64 hex digits)",
            derived("INVALID_CLIENT_SECRET_HASH"),
        )
    return value


def add_application(
    uow: UnitOfWork,
    hasher: SecretHasher,
    clock: Clock,
    name: object,
    type_: object,
    org_code: object = None,
    *,
    pinned_id: str | None = None,
    pinned_secret: str | None = None,
    pinned_secret_hash: str | None = None,
) -> CreatedApplication:
    """Validate and insert an application with a fresh secret, inside ``uow``.

    Configuration as code pins what is otherwise generated: ``pinned_id`` is the client
    id (``validate_client_id``; ``CLIENT_ID_EXISTS`` when taken), and the secret is
    ``pinned_secret`` (hashed like any other) or an exported ``pinned_secret_hash``. With
    a pinned secret the result's ``client_secret`` is empty: nothing new to show.
    """
    clean_name = required_text(name, "name", NAME_MAX, "NAME")
    if type_ is None:
        raise ValidationError("type is required", Code.TYPE_REQUIRED)
    if type_ not in APPLICATION_TYPES:
        raise ValidationError(
            "type must be one of " + ", ".join(APPLICATION_TYPES), Code.INVALID_APPLICATION_TYPE
        )
    clean_org = optional_text(org_code, "org_code", 64, "ORG_CODE")
    new_id = client_id() if pinned_id is None else validate_client_id(pinned_id)
    if pinned_secret is not None:
        validate_client_secret(pinned_secret)
    if pinned_secret_hash is not None:
        validate_secret_hash(pinned_secret_hash)
    now = isoformat(clock.now())
    application = Application(
        id=new_id, name=clean_name, type=str(type_), created_on=now, org_code=clean_org
    )
    if clean_org is not None and not uow[APPLICATIONS_REPO].org_exists(clean_org):
        raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)
    if pinned_id is not None and uow[APPLICATIONS_REPO].get(new_id) is not None:
        raise AlreadyExists(
            "An application with this client id already exists", Code.CLIENT_ID_EXISTS
        )
    secret = "" if pinned_secret_hash is not None else pinned_secret or generate_client_secret()
    uow[APPLICATIONS_REPO].add(application)
    uow[APPLICATIONS_REPO].add_secret(
        ApplicationSecret(
            id=secret_id(),
            application_id=application.id,
            secret_hash=pinned_secret_hash or hasher.hash(secret),
            created_on=now,
        )
    )
    uow.record(EventType.APPLICATION_CREATED, {"application": application_data(application)})
    pinned = pinned_secret is not None or pinned_secret_hash is not None
    return CreatedApplication(application, "" if pinned else secret)


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
        application = uow[APPLICATIONS_REPO].get(application_id)
    if application is None:
        raise NotFound("Application not found", Code.APPLICATION_NOT_FOUND)
    return application


def list_applications(
    storage: Storage, after: int | None, size: int
) -> tuple[list[Application], int | None]:
    """Applications in creation order."""
    with storage.read() as uow:
        rows = uow[APPLICATIONS_REPO].list_page(after, size + 1)
    return page(rows, size)


def list_applications_by_name(
    storage: Storage, after: tuple[str, int] | None, size: int, descending: bool
) -> tuple[list[Application], tuple[str, int] | None]:
    """Applications sorted by name (Kinde's ``sort=name_asc|name_desc``), keyset-paged."""
    with storage.read() as uow:
        rows = uow[APPLICATIONS_REPO].list_by_name(after, size + 1, descending)
    return page(rows, size)


#: Boolean settings Kinde keeps per application (``PATCH /applications/{id}``).
BOOL_SETTINGS = (
    "has_cancel_button",
    "is_access_control_enabled",
    "is_allow_faceless_auth",
    "is_ask_for_name",
    "has_marketing_consent",
    "has_sign_in_link_on_sign_up_page",
    "has_register_link_on_sign_in_page",
    "has_sign_in_with_sso_button",
    "use_gravatar_fallback",
)
TEXT_SETTINGS = ("login_uri", "homepage_uri", "language_key")
#: The application types that take access roles and access control (not ``m2m``).
ACCESS_CONTROL_TYPES = ("reg", "spa", "device")
URL_KINDS = ("redirect", "logout")
MAX_URLS = 100
URL_MAX = 2048
LIFETIME_MIN = 60
LIFETIME_MAX = 31_536_000
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s]+")


def _require(uow: UnitOfWork, application_id: str) -> Application:
    application = uow[APPLICATIONS_REPO].get(application_id)
    if application is None:
        raise NotFound("Application not found", Code.APPLICATION_NOT_FOUND)
    return application


def validate_urls(value: object, field: str = "urls") -> list[str]:
    """A list of absolute URIs (``scheme://…``), de-duplicated, at most 100."""
    if not isinstance(value, list):
        raise ValidationError(f"{field} must be a list of URLs", Code.INVALID_URLS)
    if len(value) > MAX_URLS:
        raise ValidationError(f"at most {MAX_URLS} URLs per request", Code.TOO_MANY_URLS)
    urls: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _URL.fullmatch(item.strip()) or len(item) > URL_MAX:
            raise ValidationError(f"{item!r} is not an absolute URL", Code.INVALID_URL)
        urls.append(item.strip())
    return list(dict.fromkeys(urls))


def update_application(storage: Storage, application_id: str, body: dict[str, Any]) -> None:
    """Apply Kinde's ``PATCH /applications/{id}`` fields; absent fields are kept."""
    changes: dict[str, Any] = {}
    name = None
    if "name" in body and body["name"] is not None:
        name = required_text(body["name"], "name", NAME_MAX, "NAME")
    for key in BOOL_SETTINGS:
        if key in body and body[key] is not None:
            if not isinstance(body[key], bool):
                raise ValidationError(
                    f"{key} must be true or false", derived(f"INVALID_{key.upper()}")
                )
            changes[key] = body[key]
    for key in TEXT_SETTINGS:
        if key in body and body[key] is not None:
            changes[key] = optional_text(body[key], key, URL_MAX, key.upper())
    urls = {
        kind: validate_urls(body[field], field)
        for kind, field in (("redirect", "redirect_uris"), ("logout", "logout_uris"))
        if body.get(field) is not None
    }
    with storage.transaction() as uow:
        application = _require(uow, application_id)
        if changes.get("is_access_control_enabled") is True:
            _check_access_control(uow, application)
        settings = {**application.settings, **changes}
        updated = replace(application, name=name or application.name, settings=settings)
        uow[APPLICATIONS_REPO].update(updated)
        fields = ["name"] if updated.name != application.name else []
        fields += [k for k, v in changes.items() if application.settings.get(k) != v]
        for kind, values in urls.items():
            if uow[APPLICATIONS_REPO].urls(application_id, kind) != values:
                fields.append(f"{kind}_uris")
            uow[APPLICATIONS_REPO].set_urls(application_id, kind, values)
        _record_update(uow, updated, fields)


def _check_access_control(uow: UnitOfWork, application: Application) -> None:
    """Kinde's rules for ``is_access_control_enabled: true``, checked before anything is
    written: not for M2M applications, and only once at least one role is allowed."""
    if application.type not in ACCESS_CONTROL_TYPES:
        raise ValidationError(
            f"access control cannot be enabled for an application of type {application.type}",
            Code.ACCESS_CONTROL_NOT_SUPPORTED,
        )
    if not uow[APPLICATIONS_REPO].access_roles(application.id, None, None, 1):
        raise ValidationError(
            "allow at least one access role before enabling access control",
            Code.ACCESS_ROLES_REQUIRED,
        )


def update_tokens(storage: Storage, application_id: str, body: dict[str, Any]) -> None:
    """``PATCH /applications/{id}/tokens``: the next token issued uses the new lifetime."""
    lifetimes: dict[str, int] = {}
    for key in (
        "access_token_lifetime",
        "refresh_token_lifetime",
        "id_token_lifetime",
        "authenticated_session_lifetime",
    ):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(f"{key} must be an integer", derived(f"INVALID_{key.upper()}"))
        if not LIFETIME_MIN <= value <= LIFETIME_MAX:
            raise ValidationError(
                f"{key} must be between {LIFETIME_MIN} and {LIFETIME_MAX} seconds",
                derived(f"INVALID_{key.upper()}"),
            )
        lifetimes[key] = value
    hasura = body.get("is_hasura_mapping_enabled")
    if hasura is not None and not isinstance(hasura, bool):
        raise ValidationError(
            "is_hasura_mapping_enabled must be true or false",
            Code.INVALID_IS_HASURA_MAPPING_ENABLED,
        )
    with storage.transaction() as uow:
        application = _require(uow, application_id)
        settings = dict(application.settings)
        settings.update({k: v for k, v in lifetimes.items() if k != "access_token_lifetime"})
        if hasura is not None:
            settings["is_hasura_mapping_enabled"] = hasura
        updated = replace(
            application,
            access_token_lifetime=lifetimes.get(
                "access_token_lifetime", application.access_token_lifetime
            ),
            settings=settings,
        )
        uow[APPLICATIONS_REPO].update(updated)
        before: dict[str, object] = {
            **application.settings,
            "access_token_lifetime": application.access_token_lifetime,
        }
        sent: dict[str, object] = dict(lifetimes)
        if hasura is not None:
            sent["is_hasura_mapping_enabled"] = hasura
        fields = [k for k, v in sent.items() if before.get(k) != v]
        _record_update(uow, updated, fields)


def delete_application(storage: Storage, application_id: str) -> None:
    """Delete the app; its secrets stop working and tokens are refused at once."""
    with storage.transaction() as uow:
        if not uow[APPLICATIONS_REPO].delete(application_id):
            raise NotFound("Application not found", Code.APPLICATION_NOT_FOUND)
        uow.record(EventType.APPLICATION_DELETED, {"application": {"id": application_id}})


def get_urls(storage: Storage, application_id: str, kind: str) -> list[str]:
    with storage.read() as uow:
        _require(uow, application_id)
        return uow[APPLICATIONS_REPO].urls(application_id, kind)


def change_urls(
    storage: Storage, application_id: str, kind: str, urls: list[str], mode: str
) -> None:
    """``add`` appends, ``replace`` overwrites, ``remove`` deletes (unknown URLs → 400)."""
    with storage.transaction() as uow:
        application = _require(uow, application_id)
        current = uow[APPLICATIONS_REPO].urls(application_id, kind)
        if mode == "add":
            updated = list(dict.fromkeys([*current, *urls]))
        elif mode == "replace":
            updated = urls
        else:
            missing = [u for u in urls if u not in current]
            if missing:
                raise NotFound(f"{missing[0]} is not registered", Code.URL_NOT_FOUND)
            updated = [u for u in current if u not in urls]
        if len(updated) > MAX_URLS:
            raise ValidationError(f"at most {MAX_URLS} URLs", Code.TOO_MANY_URLS)
        uow[APPLICATIONS_REPO].set_urls(application_id, kind, updated)
        _record_update(uow, application, [f"{kind}_uris"] if updated != current else [])


def _access_role_position(
    uow: UnitOfWork, application_id: str, role_id: str | None, param: str
) -> int | None:
    """Kinde pages access roles by role id: the position of that role in the listing."""
    if role_id is None:
        return None
    seq = uow[APPLICATIONS_REPO].access_role_seq(application_id, role_id)
    if seq is None:
        raise ValidationError(
            f"{param} names no role with access to this application",
            derived(f"INVALID_{param.upper()}"),
        )
    return seq


def list_access_roles(
    storage: Storage,
    application_id: str,
    after_role: str | None,
    before_role: str | None,
    size: int,
) -> tuple[list[dict[str, object]], bool]:
    with storage.read() as uow:
        _require(uow, application_id)
        after = _access_role_position(uow, application_id, after_role, "starting_after")
        before = _access_role_position(uow, application_id, before_role, "ending_before")
        rows = uow[APPLICATIONS_REPO].access_roles(application_id, after, before, size + 1)
    has_more = len(rows) > size
    if before is not None and after is None:
        rows = rows[-size:] if has_more else rows
    else:
        rows = rows[:size]
    return [item for _, item in rows], has_more


def set_access_role(storage: Storage, application_id: str, role_id: str, allowed: bool) -> None:
    """Allow a role to access the application, or stop allowing it.

    Adding one to an M2M application is ``APPLICATION_TYPE_NOT_SUPPORTED`` (Kinde: access
    roles are for front-end, back-end and device applications); neither call changes
    whether access control is enabled.
    """
    with storage.transaction() as uow:
        application = _require(uow, application_id)
        if allowed and application.type not in ACCESS_CONTROL_TYPES:
            raise ValidationError(
                f"an application of type {application.type} takes no access roles "
                "(only front-end, back-end and device applications do)",
                Code.APPLICATION_TYPE_NOT_SUPPORTED,
            )
        if not uow[APPLICATIONS_REPO].role_exists(role_id):
            raise NotFound("Role not found", Code.ROLE_NOT_FOUND)
        data = {"application": {"id": application_id}, "role": {"id": role_id}}
        if allowed:
            if uow[APPLICATIONS_REPO].add_access_role(application_id, role_id):
                uow.record(EventType.APPLICATION_ACCESS_ROLE_ADDED, data)
        elif not uow[APPLICATIONS_REPO].remove_access_role(application_id, role_id):
            raise NotFound("The role has no access to this application", Code.ROLE_NOT_FOUND)
        else:
            uow.record(EventType.APPLICATION_ACCESS_ROLE_REMOVED, data)


def list_connections(storage: Storage, application_id: str) -> list[dict[str, object]]:
    with storage.read() as uow:
        _require(uow, application_id)
        return uow[APPLICATIONS_REPO].connections(application_id)


def set_connection(
    storage: Storage, application_id: str, connection_id: str, enabled: bool
) -> None:
    """Enable or disable a connection for an application.

    The connections themselves belong to ``kindling.resources.connections`` (which calls
    this package for ``enabled_applications``), so nothing here reads them: enabling an
    unknown connection is refused by the enablement's foreign key, and removing one that
    is not enabled (unknown or not) is ``CONNECTION_NOT_FOUND`` either way.
    """
    try:
        with storage.transaction() as uow:
            _require(uow, application_id)
            if enabled:
                enable_application_connection(uow, application_id, connection_id)
            elif not disable_application_connection(uow, application_id, connection_id):
                raise NotFound("The connection is not enabled", Code.CONNECTION_NOT_FOUND)
    except IntegrityViolation:
        raise NotFound("Connection not found", Code.CONNECTION_NOT_FOUND) from None


DEFAULT_GRACE = 3_600
MAX_GRACE = 30 * 86_400


def rotate_secret(
    storage: Storage,
    hasher: SecretHasher,
    clock: Clock,
    application_id: str,
    grace_seconds: int = DEFAULT_GRACE,
) -> tuple[str, int]:
    """Add a new secret and let the old ones work until ``now + grace_seconds``.

    Both secrets work during the window, so clients can roll over without a moment
    where neither is accepted; ``grace_seconds=0`` revokes the old ones at once.
    Returns the new secret (shown once) and when the old ones stop working.
    """
    if isinstance(grace_seconds, bool) or not 0 <= grace_seconds <= MAX_GRACE:
        raise ValidationError(
            f"grace_seconds must be between 0 and {MAX_GRACE}", Code.INVALID_GRACE_SECONDS
        )
    now = clock.now()
    secret = generate_client_secret()
    new_id = secret_id()
    expires_at = int(now) + grace_seconds
    with storage.transaction() as uow:
        _require(uow, application_id)
        uow[APPLICATIONS_REPO].add_secret(
            ApplicationSecret(
                id=new_id,
                application_id=application_id,
                secret_hash=hasher.hash(secret),
                created_on=isoformat(now),
            )
        )
        uow[APPLICATIONS_REPO].expire_secrets(application_id, expires_at, except_id=new_id)
        uow.record(
            EventType.APPLICATION_SECRET_ROTATED,
            {
                "application": {"id": application_id},
                "secret": {"id": new_id},
                "previous_secrets_expire_at": expires_at,
            },
        )
    return secret, expires_at


def active_secrets(uow: UnitOfWork, application_id: str, now: float) -> list[ApplicationSecret]:
    """The application's secrets that still work at ``now``, newest first."""
    return [
        s
        for s in uow[APPLICATIONS_REPO].secrets(application_id)
        if s.expires_at is None or s.expires_at > now
    ]


def pin_secret(
    uow: UnitOfWork,
    hasher: SecretHasher,
    clock: Clock,
    application_id: str,
    secret: str | None = None,
    secret_hash: str | None = None,
) -> bool:
    """Make ``secret`` (or the exported ``secret_hash``) the application's only working
    secret, in the caller's transaction; False when it already is (nothing written).

    The other secrets stop working at once (``expire_secrets`` at now, no grace window:
    the file says which secret works) and ``application.secret_rotated`` is recorded
    without the secret or its hash. The secret is compared in constant time.
    """
    if (secret is None) == (secret_hash is None):
        raise ValueError("give exactly one of secret and secret_hash")
    if secret is not None:
        validate_client_secret(secret)
    else:
        validate_secret_hash(secret_hash)
    now = clock.now()
    _require(uow, application_id)
    active = active_secrets(uow, application_id, now)

    def matches(stored: ApplicationSecret) -> bool:
        if secret is not None:
            return hasher.verify(secret, stored.secret_hash)
        return hmac.compare_digest(stored.secret_hash, str(secret_hash))

    if len(active) == 1 and matches(active[0]):
        return False
    new_id = secret_id()
    uow[APPLICATIONS_REPO].add_secret(
        ApplicationSecret(
            id=new_id,
            application_id=application_id,
            secret_hash=hasher.hash(secret) if secret is not None else str(secret_hash),
            created_on=isoformat(now),
        )
    )
    uow[APPLICATIONS_REPO].expire_secrets(application_id, int(now), except_id=new_id)
    uow.record(
        EventType.APPLICATION_SECRET_ROTATED,
        {
            "application": {"id": application_id},
            "secret": {"id": new_id},
            "previous_secrets_expire_at": int(now),
        },
    )
    return True


# --- for other resources and the web layer ---------------------------------------------
# Other resources reach applications through these functions, never through the
# applications repository; the ``uow`` ones run in the caller's transaction.


def find_application(uow: UnitOfWork, application_id: str) -> Application | None:
    """The application with this id, or None (the caller picks the error to raise)."""
    return uow[APPLICATIONS_REPO].get(application_id)


def connection_application_ids(uow: UnitOfWork, connection_id: str) -> list[str]:
    """The applications that have the connection enabled, oldest application first."""
    return uow[APPLICATIONS_REPO].connection_applications(connection_id)


def enable_application_connection(uow: UnitOfWork, application_id: str, connection_id: str) -> bool:
    """Enable the connection for the (existing) application; False if it already was.

    Records ``application.connection_enabled`` when it changed. An unknown connection
    raises IntegrityViolation (the enablement's foreign key) and rolls the caller back.
    """
    if application_id in uow[APPLICATIONS_REPO].connection_applications(connection_id):
        return False
    uow[APPLICATIONS_REPO].enable_connection(application_id, connection_id)
    uow.record(
        EventType.APPLICATION_CONNECTION_ENABLED,
        {"application": {"id": application_id}, "connection": {"id": connection_id}},
    )
    return True


def disable_application_connection(
    uow: UnitOfWork, application_id: str, connection_id: str
) -> bool:
    """Disable the connection for the application; False if it was not enabled.

    Records ``application.connection_disabled`` when it changed.
    """
    if not uow[APPLICATIONS_REPO].disable_connection(application_id, connection_id):
        return False
    uow.record(
        EventType.APPLICATION_CONNECTION_DISABLED,
        {"application": {"id": application_id}, "connection": {"id": connection_id}},
    )
    return True


def applications_page(uow: UnitOfWork, after: int | None, limit: int) -> list[Application]:
    """Up to ``limit`` applications after sequence ``after``, in creation order."""
    return [application for _, application in uow[APPLICATIONS_REPO].list_page(after, limit)]


def delete_organization_applications(uow: UnitOfWork, org_code: str) -> list[Application]:
    """Delete the applications scoped to ``org_code``, in the caller's transaction.

    The organizations service calls this when it deletes the organization: an
    organization-scoped M2M application reaches nothing once its organization is gone, so
    it goes too, with what hangs off it (secrets, API authorizations and their scope
    grants, access roles, connections, callback URLs, property values; the foreign keys
    cascade). Each one records ``application.deleted`` as ``delete_application`` does, and
    the Management API refuses its unexpired tokens from the next request
    (``application_exists``). Returns the deleted applications.
    """
    repo = uow[APPLICATIONS_REPO]
    deleted = repo.organization_applications(org_code)
    for application in deleted:
        repo.delete(application.id)
        uow.record(EventType.APPLICATION_DELETED, {"application": {"id": application.id}})
    return deleted


def application_exists(storage: Storage, application_id: str) -> bool:
    """Whether the application is still there.

    The Management API asks this before every call, so the unexpired tokens of a
    deleted application stop working at once instead of living on until they expire.
    """
    with storage.read() as uow:
        return uow[APPLICATIONS_REPO].get(application_id) is not None


def client_state(storage: Storage) -> int:
    """The change counter of applications and what the token endpoint reads with them
    (``client_state.version``, moved by triggers in the transaction of every change,
    deletions included): equal values mean no application was deleted in between."""
    with storage.read(one_statement=True) as uow:
        return uow[APPLICATIONS_REPO].client_state()


def application_presence(storage: Storage, application_id: str) -> tuple[int, bool]:
    """``application_exists`` with ``client_state`` read first in the same snapshot: the
    answer holds at least until that counter moves (a cache can keep it that long)."""
    with storage.read() as uow:
        repo = uow[APPLICATIONS_REPO]
        version = repo.client_state()
        return version, repo.get(application_id) is not None
