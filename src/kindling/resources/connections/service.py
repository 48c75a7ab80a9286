"""Connections: create, read, list, update (PATCH merges), replace (PUT), delete.

Kinde's Connections tag. The body's ``options`` take the shape of the connection's
strategy (``model.strategy_family``: social, Azure AD or SAML); every option the spec
types is checked for its type (string, boolean, list of strings, object, or one of the
spec's enum values), and an option of another shape is refused, so a typo never ends
up stored silently. ``client_secret`` and ``saml_signing_private_key`` are write-only:
they are sealed with AES-256-GCM under a key derived from the master key
(``connection_sealer``), bound to the connection id, and no read, listing, event or
error message ever shows them.

PATCH follows JSON Merge Patch (RFC 7396): given fields replace, absent ones stay;
``options`` is merged key by key (recursively, and a null removes the option), while
``enabled_applications``, an array, is replaced whole. PUT replaces the configuration:
``name`` is required again, and an absent ``display_name``, ``options`` (secrets
included) or ``enabled_applications`` is cleared. The strategy and the managing
organization are set once, at creation.

``enabled_applications`` enables the connection in those applications through the
applications service, which records ``application.connection_enabled`` and
``..._disabled`` itself; an unknown application is ``APPLICATION_NOT_FOUND`` (400) and
nothing is written. An ``organization_code`` (enterprise connections only) must name an
organization: the row's foreign key checks it inside the transaction, so a missing one
is ``ORGANIZATION_NOT_FOUND`` (400) with nothing written, and the connection is deleted
with its organization. Organizations reach connections through this module, never the
other way round (dependencies between resources point one way).

Deleting a connection removes its organization and application enablements (foreign
keys, ON DELETE CASCADE) and leaves the SCIM directories that provision into it
unlinked; the users who signed in with it keep their accounts and identities (an
identity's ``connection_id`` then names a connection that is gone), since removing a
way to sign in never deletes people.

Each change records ``connection.created``, ``connection.updated`` (only when a field
changed) or ``connection.deleted`` in its transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from kindling.clock import Clock, isoformat
from kindling.crypto.masterkey import MasterKey
from kindling.crypto.sealing import ValueSealer
from kindling.platform.bodies import UNSET, Body, decode_body, given, or_none
from kindling.platform.codes import Code
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import connection_id as new_connection_id
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import optional_text, required_text
from kindling.resources.applications import service as applications
from kindling.resources.connections.model import (
    SECRET_OPTIONS,
    STRATEGIES,
    Connection,
    Family,
    is_enterprise,
    normalize_domain,
    strategy_family,
)
from kindling.resources.connections.repository import CONNECTIONS_REPO

#: The master key's sub-key purpose that seals connection secrets (HKDF info, RFC 5869).
SEAL_PURPOSE = "connection-secret-seal"
NAME_MAX = 128
DISPLAY_NAME_MAX = 128
ORGANIZATION_CODE_MAX = 64
APPLICATION_ID_MAX = 128
#: Kinde caps bulk request lists at 100 objects.
ENABLED_APPLICATIONS_MAX = 100
TEXT_MAX = 2_048
#: Metadata XML, certificates and private keys (PEM) are long.
DOCUMENT_MAX = 65_536
DOMAINS_MAX = 100
#: RFC 1035 §2.3.4: a domain name is at most 253 characters in its text form.
DOMAIN_MAX = 253
UPSTREAM_PARAMS_MAX = 8_192


@dataclass(frozen=True)
class Option:
    """How one option is typed: ``text``, ``document`` (long, multi-line text), ``bool``,
    ``domains`` (a list of domain strings), ``object`` (any JSON object), or ``choice``."""

    kind: str
    choices: tuple[str, ...] = ()


_TEXT = Option("text")
_DOCUMENT = Option("document")
_BOOL = Option("bool")
_DOMAINS = Option("domains")
_OBJECT = Option("object")

_SOCIAL = {
    "client_id": _TEXT,
    "client_secret": _TEXT,
    "is_use_custom_domain": _BOOL,
    "is_trusted": _BOOL,
}
_ENTERPRISE_COMMON = {
    "home_realm_domains": _DOMAINS,
    "is_create_missing_user": _BOOL,
    "is_force_show_sso_button": _BOOL,
    "is_auto_join_organization_enabled": _BOOL,
    "upstream_params": _OBJECT,
    "is_use_custom_domain": _BOOL,
    "is_trusted": _BOOL,
}
#: The options of each shape. Kinde's create, update and replace bodies list nearly the
#: same options (update and replace leave out ``is_auto_join_organization_enabled``,
#: replace ``saml_sign_in_url``); each shape here is their union, so an option stored at
#: creation can be changed and kept by the other two.
OPTIONS: dict[Family, dict[str, Option]] = {
    "social": _SOCIAL,
    "azure_ad": {
        "client_id": _TEXT,
        "client_secret": _TEXT,
        "entra_id_domain": _TEXT,
        "is_use_common_endpoint": _BOOL,
        "is_sync_user_profile_on_login": _BOOL,
        "is_retrieve_provider_user_groups": _BOOL,
        "is_extended_attributes_required": _BOOL,
        **_ENTERPRISE_COMMON,
    },
    "saml": {
        "saml_entity_id": _TEXT,
        "saml_idp_metadata_url": _TEXT,
        "saml_idp_metadata_xml": _DOCUMENT,
        "saml_sign_in_url": _TEXT,
        "sign_request_algorithm": Option("choice", ("RSA-SHA256", "RSA-SHA1")),
        "protocol_binding": Option("choice", ("HTTP-REDIRECT", "HTTP-POST")),
        "name_id_format": Option(
            "choice", ("Persistent", "Transient", "Email address", "Unspecified")
        ),
        "saml_email_key_attr": _TEXT,
        "saml_user_id_key_attr": _TEXT,
        "saml_first_name_key_attr": _TEXT,
        "saml_last_name_key_attr": _TEXT,
        "saml_signing_certificate": _DOCUMENT,
        "saml_signing_private_key": _DOCUMENT,
        **_ENTERPRISE_COMMON,
    },
}


def connection_sealer(master: MasterKey) -> ValueSealer:
    """The sealer of connection secrets: AES-256-GCM under the master key's
    ``connection-secret-seal`` sub-key (never the key that seals signing keys)."""
    return ValueSealer(master.derive(SEAL_PURPOSE))


class CreateConnectionBody(Body, frozen=True):
    """``POST /connections``: a null field is the same as an absent one."""

    name: object = None
    display_name: object = None
    strategy: object = None
    enabled_applications: object = None
    organization_code: object = None
    options: object = None


class ChangeConnectionBody(Body, frozen=True):
    """``PATCH`` and ``PUT /connections/{id}``: ``display_name`` may be sent as null to
    clear it; the strategy and organization are not part of these bodies."""

    name: object = None
    display_name: object = UNSET
    enabled_applications: object = None
    options: object = None


def connection_data(connection: Connection) -> dict[str, Any]:
    """A connection as its events show it: no option values, never a secret."""
    return {
        "id": connection.id,
        "name": connection.name,
        "display_name": connection.display_name,
        "strategy": connection.strategy,
        "organization_code": connection.organization_code,
    }


def _not_found() -> NotFound:
    return NotFound("Connection not found", Code.CONNECTION_NOT_FOUND)


# --- validation (no I/O) -----------------------------------------------------------


def _invalid_option(key: str, why: str) -> ValidationError:
    # The message names the option, never its value (it may be a secret).
    return ValidationError(f"options.{key} {why}", Code.INVALID_OPTIONS)


def _text(key: str, value: Any, limit: int, multiline: bool) -> str:
    if not isinstance(value, str):
        raise _invalid_option(key, "must be a string")
    if len(value) > limit:
        raise _invalid_option(key, f"must be at most {limit} characters")
    allowed = "\t\n\r" if multiline else ""
    if any((ord(ch) < 0x20 and ch not in allowed) or ord(ch) == 0x7F for ch in value):
        raise _invalid_option(key, "contains control characters")
    return value


def _domains(key: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _invalid_option(key, "must be a list of domains")
    if len(value) > DOMAINS_MAX:
        raise _invalid_option(key, f"may list at most {DOMAINS_MAX} domains")
    domains: list[str] = []
    for item in value:
        text = _text(key, item, TEXT_MAX, False).strip()
        domain = normalize_domain(text)
        if not domain or len(domain) > DOMAIN_MAX or any(ch.isspace() for ch in text):
            raise _invalid_option(
                key, f"must list domains of 1 to {DOMAIN_MAX} characters without spaces"
            )
        if text not in domains:
            domains.append(text)
    return domains


def _json_object(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid_option(key, "must be an object")
    if len(msgspec.json.encode(value)) > UPSTREAM_PARAMS_MAX:
        raise _invalid_option(key, f"must be at most {UPSTREAM_PARAMS_MAX} bytes of JSON")
    return value


def _option(key: str, rule: Option, value: Any) -> Any:
    """``value`` checked against the option's type (the spec's), in its stored form."""
    if rule.kind == "bool":
        if not isinstance(value, bool):
            raise _invalid_option(key, "must be true or false")
        return value
    if rule.kind == "choice":
        if not isinstance(value, str) or value not in rule.choices:
            raise _invalid_option(key, f"must be one of {', '.join(rule.choices)}")
        return value
    if rule.kind == "domains":
        return _domains(key, value)
    if rule.kind == "object":
        return _json_object(key, value)
    return _text(
        key, value, DOCUMENT_MAX if rule.kind == "document" else TEXT_MAX, rule.kind == "document"
    )


def _options_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError("options must be an object", Code.INVALID_OPTIONS)
    return value


def _rule(family: Family, strategy: str, key: str) -> Option:
    rule = OPTIONS[family].get(key)
    if rule is None:
        raise _invalid_option(key, f"is not an option of {strategy} connections")
    return rule


def validate_options(strategy: str, value: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A whole ``options`` object (create, PUT) as ``(public options, secrets)``; null
    options are left out, as absent ones are."""
    family = strategy_family(strategy)
    public: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for key, item in _options_object(value).items():
        rule = _rule(family, strategy, key)
        if item is None:
            continue
        checked = _option(key, rule, item)
        if key in SECRET_OPTIONS:
            secrets[key] = checked
        else:
            public[key] = checked
    return public, secrets


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7396 §2: ``patch`` applied to ``target``; a null removes a member, an object
    is merged into the member's object, anything else replaces it."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            current = merged.get(key)
            merged[key] = merge_patch(current if isinstance(current, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def _patched_options(
    strategy: str, public: Mapping[str, Any], patch: Any
) -> tuple[dict[str, Any], dict[str, str | None]]:
    """The public options after a PATCH's ``options``, and the secret changes it asks for
    (a value, or None to remove the secret). Each changed option is checked after the
    merge, so ``upstream_params`` is checked as it will be stored."""
    family = strategy_family(strategy)
    patch = _options_object(patch)
    public_patch: dict[str, Any] = {}
    secret_changes: dict[str, str | None] = {}
    for key, item in patch.items():
        rule = _rule(family, strategy, key)
        if key in SECRET_OPTIONS:
            secret_changes[key] = None if item is None else _option(key, rule, item)
        else:
            public_patch[key] = item
    merged = merge_patch(public, public_patch)
    for key in public_patch:
        if key in merged:
            merged[key] = _option(key, _rule(family, strategy, key), merged[key])
    return merged, secret_changes


def _strategy(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError("strategy is required", Code.STRATEGY_REQUIRED)
    if not isinstance(value, str) or value not in STRATEGIES:
        raise ValidationError(
            f"strategy must be one of {', '.join(STRATEGIES)}", Code.INVALID_STRATEGY
        )
    return value


def _organization_code(value: Any, strategy: str) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > ORGANIZATION_CODE_MAX
        or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value)
    ):
        raise ValidationError(
            "organization_code must be an organization code", Code.INVALID_ORGANIZATION_CODE
        )
    if not is_enterprise(strategy):
        raise ValidationError(
            "only an enterprise connection (Entra ID or SAML) can be managed by an organization",
            Code.ORGANIZATION_CODE_NOT_ALLOWED,
        )
    return value


def validate_applications(value: Any) -> list[str]:
    """``enabled_applications``: a list of application (client) ids, repeats dropped."""
    if not isinstance(value, list) or not all(
        isinstance(item, str) and item.strip() and len(item) <= APPLICATION_ID_MAX for item in value
    ):
        raise ValidationError(
            "enabled_applications must be a list of application ids",
            Code.INVALID_ENABLED_APPLICATIONS,
        )
    ids = list(dict.fromkeys(value))
    if len(ids) > ENABLED_APPLICATIONS_MAX:
        raise ValidationError(
            f"enabled_applications may list at most {ENABLED_APPLICATIONS_MAX} applications",
            Code.TOO_MANY_ENABLED_APPLICATIONS,
        )
    return ids


def _name(value: Any) -> str:
    return required_text(value, "name", NAME_MAX, "NAME")


def _display_name(value: Any) -> str | None:
    return optional_text(value, "display_name", DISPLAY_NAME_MAX, "DISPLAY_NAME")


# --- secrets ---------------------------------------------------------------------


def _seal(sealer: ValueSealer, connection_id_: str, secrets: Mapping[str, str]) -> bytes | None:
    if not secrets:
        return None
    return sealer.seal(connection_id_, msgspec.json.encode(dict(secrets)).decode("utf-8"))


def _unseal(sealer: ValueSealer, connection_id_: str, sealed: bytes | None) -> dict[str, str]:
    if sealed is None:
        return {}
    value = msgspec.json.decode(sealer.unseal(connection_id_, sealed))
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


# --- applications (through their service) ---------------------------------------------


def _check_applications(uow: UnitOfWork, ids: Sequence[str]) -> None:
    for application_id in ids:
        if applications.find_application(uow, application_id) is None:
            raise ValidationError(
                "enabled_applications names an application that does not exist",
                Code.APPLICATION_NOT_FOUND,
            )


def _set_applications(uow: UnitOfWork, connection_id_: str, wanted: Sequence[str]) -> None:
    """Make ``wanted`` exactly the applications that have the connection enabled."""
    current = applications.connection_application_ids(uow, connection_id_)
    for application_id in wanted:
        if application_id not in current:
            applications.enable_application_connection(uow, application_id, connection_id_)
    for application_id in current:
        if application_id not in wanted:
            applications.disable_application_connection(uow, application_id, connection_id_)


# --- use cases -----------------------------------------------------------------------


def create_connection(storage: Storage, clock: Clock, sealer: ValueSealer, body: Any) -> Connection:
    data = decode_body(body, CreateConnectionBody)
    name = _name(data.name)
    display_name = _display_name(data.display_name)
    strategy = _strategy(data.strategy)
    organization_code = _organization_code(data.organization_code, strategy)
    wanted = (
        []
        if data.enabled_applications is None
        else validate_applications(data.enabled_applications)
    )
    public, secrets = ({}, {}) if data.options is None else validate_options(strategy, data.options)
    now = isoformat(clock.now())
    connection = Connection(
        id=new_connection_id(),
        name=name,
        strategy=strategy,
        created_on=now,
        display_name=display_name,
        organization_code=organization_code,
        options=public,
        updated_on=now,
    )
    try:
        with storage.transaction() as uow:
            _check_applications(uow, wanted)
            uow[CONNECTIONS_REPO].add(connection, _seal(sealer, connection.id, secrets))
            uow.record(EventType.CONNECTION_CREATED, {"connection": connection_data(connection)})
            _set_applications(uow, connection.id, wanted)
    except IntegrityViolation:
        if organization_code is None:
            raise
        raise ValidationError(
            "organization_code names no organization", Code.ORGANIZATION_NOT_FOUND
        ) from None
    return connection


def get_connection(storage: Storage, connection_id_: str) -> Connection:
    with storage.read() as uow:
        connection = uow[CONNECTIONS_REPO].get(connection_id_)
    if connection is None:
        raise _not_found()
    return connection


def list_connections(
    storage: Storage,
    home_realm_domain: str | None,
    starting_after: str | None,
    ending_before: str | None,
    size: int,
) -> tuple[list[Connection], bool]:
    """A page of connections in creation order and whether more follow (Kinde's id
    cursors: ``starting_after`` pages forwards, ``ending_before`` backwards)."""
    if starting_after and ending_before:
        raise ValidationError(
            "only one of starting_after and ending_before may be given",
            Code.TOO_MANY_PARAMETERS,
        )
    domain = normalize_domain(home_realm_domain) if home_realm_domain else None
    with storage.read() as uow:
        repo = uow[CONNECTIONS_REPO]
        after = before = None
        if starting_after:
            after = repo.position(starting_after)
            if after is None:
                raise ValidationError(
                    "starting_after is not a connection id", Code.INVALID_STARTING_AFTER
                )
        if ending_before:
            before = repo.position(ending_before)
            if before is None:
                raise ValidationError(
                    "ending_before is not a connection id", Code.INVALID_ENDING_BEFORE
                )
        rows = repo.list_page(domain or None, after, before, size + 1)
    if len(rows) <= size:
        return rows, False
    return (rows[1:] if before is not None else rows[:size]), True


def _secrets_after(
    sealer: ValueSealer,
    connection_id_: str,
    sealed: bytes | None,
    wanted: Mapping[str, str | None],
    merge: bool,
) -> tuple[bytes | None, bool]:
    """The sealed secrets after a change, and whether they changed: ``wanted`` merged
    into the current ones (a None removes one) or, without ``merge``, replacing them."""
    old = _unseal(sealer, connection_id_, sealed)
    new = {**old, **wanted} if merge else dict(wanted)
    kept = {key: value for key, value in new.items() if value is not None}
    if kept == old:
        return sealed, False
    return _seal(sealer, connection_id_, kept), True


def _change(
    storage: Storage,
    clock: Clock,
    sealer: ValueSealer,
    connection_id_: str,
    changes: Mapping[str, Any],
    options: Any,
    merge: bool,
    wanted: list[str] | None,
) -> Connection:
    """Apply a PATCH (``merge``) or a PUT in one transaction: ``changes`` to the name and
    display name, the body's ``options`` (None leaves them), and ``wanted`` as the exact
    set of applications (None leaves them). Everything is checked before the first write."""
    with storage.transaction() as uow:
        repo = uow[CONNECTIONS_REPO]
        current = repo.get(connection_id_)
        if current is None:
            raise _not_found()
        sealed = repo.sealed_secrets(connection_id_)
        public: dict[str, Any] = dict(current.options)
        secrets_changed = False
        if options is not None:
            secret_values: Mapping[str, str | None]
            if merge:
                public, secret_values = _patched_options(current.strategy, public, options)
            else:
                public, secret_values = validate_options(current.strategy, options)
            if secret_values or not merge:
                sealed, secrets_changed = _secrets_after(
                    sealer, connection_id_, sealed, secret_values, merge
                )
        if wanted is not None:
            _check_applications(uow, wanted)
        updated = replace(current, **changes, options=public)
        fields = [f for f in ("name", "display_name") if getattr(updated, f) != getattr(current, f)]
        if public != dict(current.options) or secrets_changed:
            fields.append("options")
        if fields:
            updated = replace(updated, updated_on=isoformat(clock.now()))
            repo.update(updated, sealed)
            uow.record(
                EventType.CONNECTION_UPDATED,
                {"connection": connection_data(updated), "updated_fields": fields},
            )
        else:
            updated = current
        if wanted is not None:
            _set_applications(uow, connection_id_, wanted)
    return updated


def update_connection(
    storage: Storage, clock: Clock, sealer: ValueSealer, connection_id_: str, body: Any
) -> Connection:
    """``PATCH``: change what is given (RFC 7396); a null ``display_name`` clears it, a
    null name, options or enabled_applications means "not given"."""
    data = decode_body(body, ChangeConnectionBody)
    changes: dict[str, Any] = {}
    if data.name is not None:
        changes["name"] = _name(data.name)
    if given(data.display_name):
        changes["display_name"] = _display_name(data.display_name)
    wanted = None
    if data.enabled_applications is not None:
        wanted = validate_applications(data.enabled_applications)
    options = None if data.options is None else _options_object(data.options)
    if not changes and options is None and wanted is None:
        raise ValidationError(
            "give at least one of name, display_name, enabled_applications, options",
            Code.NO_FIELDS_TO_UPDATE,
        )
    return _change(storage, clock, sealer, connection_id_, changes, options, True, wanted)


def replace_connection(
    storage: Storage, clock: Clock, sealer: ValueSealer, connection_id_: str, body: Any
) -> Connection:
    """``PUT``: the body is the whole configuration; what it leaves out is cleared
    (``display_name``, every option and secret, every application's enablement)."""
    data = decode_body(body, ChangeConnectionBody)
    changes = {
        "name": _name(data.name),
        "display_name": _display_name(or_none(data.display_name)),
    }
    wanted = (
        []
        if data.enabled_applications is None
        else validate_applications(data.enabled_applications)
    )
    options = {} if data.options is None else _options_object(data.options)
    return _change(storage, clock, sealer, connection_id_, changes, options, False, wanted)


def delete_connection(storage: Storage, connection_id_: str) -> None:
    with storage.transaction() as uow:
        connection = uow[CONNECTIONS_REPO].get(connection_id_)
        if connection is None:
            raise _not_found()
        uow[CONNECTIONS_REPO].delete(connection_id_)
        uow.record(
            EventType.CONNECTION_DELETED,
            {
                "connection": {
                    "id": connection.id,
                    "name": connection.name,
                    "strategy": connection.strategy,
                }
            },
        )


def connection_secrets(
    storage: Storage, sealer: ValueSealer, connection_id_: str
) -> dict[str, str]:
    """The write-only options in clear, for the server's own use (signing in through the
    connection); never rendered by the Management API."""
    with storage.read() as uow:
        if uow[CONNECTIONS_REPO].get(connection_id_) is None:
            raise _not_found()
        sealed = uow[CONNECTIONS_REPO].sealed_secrets(connection_id_)
    return _unseal(sealer, connection_id_, sealed)


# --- for other resources ---------------------------------------------------------------
# Organizations (and whoever else needs a connection) reach connections through these
# functions, never through the connections repository; each runs in the caller's unit
# of work.


def find_connection(uow: UnitOfWork, connection_id_: str) -> Connection | None:
    """The connection with this id, or None (the caller picks the error to raise)."""
    return uow[CONNECTIONS_REPO].get(connection_id_)
