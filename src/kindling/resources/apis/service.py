"""APIs (audiences), their scopes, and application authorizations.

The built-in Kinde Management API is an API like any other, except that its
audience follows the issuer (``<issuer>/api``) and it cannot be deleted. Every
change here is read by the very next token request: the token endpoint reads
authorizations from storage on each request, so no cache can go stale.

Every change records its event in its transaction: ``api.created``/``updated``/
``deleted``, ``api.scope_created``/``updated``/``deleted``, and for authorizations
``api.application_authorized`` (with the scopes granted along), ``..._deauthorized``
and one ``api.application_scope_granted``/``_revoked`` per scope of an application
already authorized. A call that changes nothing records nothing.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.bodies import Body, decode_body
from kindling.platform.codes import Code
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import api_id, api_scope_id
from kindling.platform.pagination import page
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import SCOPE_KEY, optional_text, required_text
from kindling.resources.apis.model import Api, ApiAuthorization, ApiScope
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.applications.model import Application
from kindling.resources.applications.service import find_application

NAME_MAX = 128
AUDIENCE_MAX = 255
DESCRIPTION_MAX = 255
MANAGEMENT_API_NAME = "Kinde Management API"


@dataclass(frozen=True)
class ApiDetail:
    api: Api
    scopes: list[ApiScope]
    applications: list[Application]


@dataclass(frozen=True)
class ApplicationChanges:
    connected: list[str]
    disconnected: list[str]


class ApplicationChange(Body, frozen=True):
    """One entry of ``PATCH /apis/{id}/applications``: ``operation: "delete"`` disconnects."""

    id: object = None
    operation: object = None


def api_data(api: Api) -> dict[str, Any]:
    return {
        "id": api.id,
        "name": api.name,
        "audience": api.audience,
        "is_management_api": api.is_management_api,
    }


def _access(api: Api, application_id: str, **more: Any) -> dict[str, Any]:
    return {
        "api": {"id": api.id, "audience": api.audience},
        "application": {"id": application_id},
        **more,
    }


def _granted(uow: UnitOfWork, api: Api, application_id: str) -> set[str] | None:
    """The scope keys the application holds for the API; None when it is not authorized."""
    found = uow[APIS_REPO].authorizations(application_id, [api.audience])
    return set(found[0].scopes) if found else None


def _record_access(
    uow: UnitOfWork,
    api: Api,
    application_id: str,
    before: set[str] | None,
    after: set[str] | None,
    scopes: Sequence[ApiScope],
) -> None:
    """Record how an application's access to the API went from ``before`` to ``after``
    (granted scope keys, None for not authorized), with scopes in creation order."""
    if before is None and after is not None:
        held = [s.key for s in scopes if s.key in after]
        uow.record(EventType.API_APPLICATION_AUTHORIZED, _access(api, application_id, scopes=held))
    elif before is not None and after is None:
        uow.record(EventType.API_APPLICATION_DEAUTHORIZED, _access(api, application_id))
    elif before is not None and after is not None:
        for scope in scopes:
            if (scope.key in after) == (scope.key in before):
                continue
            type_ = (
                EventType.API_APPLICATION_SCOPE_GRANTED
                if scope.key in after
                else EventType.API_APPLICATION_SCOPE_REVOKED
            )
            uow.record(
                type_,
                {
                    "api": {"id": api.id},
                    "application": {"id": application_id},
                    "scope": {"id": scope.id, "key": scope.key},
                },
            )


def management_audience(issuer: str) -> str:
    return f"{issuer}/api"


def ensure_management_api(uow: UnitOfWork, issuer: str, now: str) -> Api:
    """Create the built-in Management API with all of Kinde's scopes, or re-point its audience."""
    audience = management_audience(issuer)
    api = uow[APIS_REPO].get_management_api()
    if api is None:
        api = Api(
            id=api_id(),
            name=MANAGEMENT_API_NAME,
            audience=audience,
            is_management_api=True,
            created_on=now,
        )
        uow[APIS_REPO].add(api)
        uow[APIS_REPO].add_scopes(
            [ApiScope(id=api_scope_id(), api_id=api.id, key=key) for key in MANAGEMENT_API_SCOPES]
        )
        uow.record(EventType.API_CREATED, {"api": api_data(api)})
    elif api.audience != audience:
        uow[APIS_REPO].set_audience(api.id, audience)
        moved = replace(api, audience=audience)
        uow.record(EventType.API_UPDATED, {"api": api_data(moved), "updated_fields": ["audience"]})
    return api


def _validate_audience(value: object) -> str:
    audience = required_text(value, "audience", AUDIENCE_MAX, "AUDIENCE")
    if any(ch.isspace() for ch in audience):
        raise ValidationError("audience must not contain spaces", Code.INVALID_AUDIENCE)
    return audience


def create_api(storage: Storage, clock: Clock, name: object, audience: object) -> Api:
    clean_name = required_text(name, "name", NAME_MAX, "NAME")
    clean_audience = _validate_audience(audience)
    api = Api(
        id=api_id(),
        name=clean_name,
        audience=clean_audience,
        is_management_api=False,
        created_on=isoformat(clock.now()),
    )
    try:
        with storage.transaction() as uow:
            if uow[APIS_REPO].get_by_audience(clean_audience) is not None:
                raise AlreadyExists(
                    "An API with this audience already exists", Code.AUDIENCE_EXISTS
                )
            uow[APIS_REPO].add(api)
            uow.record(EventType.API_CREATED, {"api": api_data(api)})
    except IntegrityViolation:
        raise AlreadyExists(
            "An API with this audience already exists", Code.AUDIENCE_EXISTS
        ) from None
    return api


def list_apis(
    storage: Storage, after: tuple[str, int] | None, size: int
) -> tuple[list[tuple[Api, list[ApiScope]]], tuple[str, int] | None]:
    """APIs sorted by name, as Kinde lists them, keyset-paged."""
    with storage.read() as uow:
        items, cursor = page(uow[APIS_REPO].list_by_name(after, size + 1), size)
        return [(api, uow[APIS_REPO].scopes(api.id)) for api in items], cursor


def get_api(storage: Storage, api_id_: str) -> ApiDetail:
    with storage.read() as uow:
        api = uow[APIS_REPO].get(api_id_)
        if api is None:
            raise NotFound("API not found", Code.API_NOT_FOUND)
        return ApiDetail(api, uow[APIS_REPO].scopes(api.id), uow[APIS_REPO].applications(api.id))


def add_scope(storage: Storage, api_id_: str, key: object, description: object) -> ApiScope:
    clean_key = required_text(key, "key", 128, "KEY")
    if not SCOPE_KEY.fullmatch(clean_key):
        raise ValidationError(
            "key may contain only printable ASCII without spaces, quotes or backslashes",
            Code.INVALID_KEY,
        )
    clean_description = optional_text(description, "description", DESCRIPTION_MAX, "DESCRIPTION")
    try:
        with storage.transaction() as uow:
            if uow[APIS_REPO].get(api_id_) is None:
                raise NotFound("API not found", Code.API_NOT_FOUND)
            if any(s.key == clean_key for s in uow[APIS_REPO].scopes(api_id_)):
                raise AlreadyExists("The API already has this scope", Code.SCOPE_EXISTS)
            scope = ApiScope(
                id=api_scope_id(), api_id=api_id_, key=clean_key, description=clean_description
            )
            uow[APIS_REPO].add_scopes([scope])
            uow.record(
                EventType.API_SCOPE_CREATED,
                {"api": {"id": api_id_}, "scope": _scope_data(scope)},
            )
    except IntegrityViolation:
        raise AlreadyExists("The API already has this scope", Code.SCOPE_EXISTS) from None
    return scope


def update_api_applications(
    storage: Storage, clock: Clock, api_id_: str, changes: object
) -> ApplicationChanges:
    """Connect or disconnect applications (``operation: "delete"`` disconnects); all or nothing."""
    if not isinstance(changes, list) or not changes:
        raise ValidationError("applications must be a non-empty list", Code.APPLICATIONS_REQUIRED)
    if len(changes) > 100:
        raise ValidationError("at most 100 applications per request", Code.TOO_MANY_APPLICATIONS)
    parsed: list[tuple[str, bool]] = []
    for raw in changes:
        item = decode_body(
            raw, ApplicationChange, "each application needs an id", Code.APPLICATION_ID_REQUIRED
        )
        if not isinstance(item.id, str) or not item.id:
            raise ValidationError("each application needs an id", Code.APPLICATION_ID_REQUIRED)
        if item.operation not in (None, "delete"):
            raise ValidationError('operation must be "delete" or absent', Code.INVALID_OPERATION)
        parsed.append((item.id, item.operation == "delete"))
    now = isoformat(clock.now())
    connected: list[str] = []
    disconnected: list[str] = []
    with storage.transaction() as uow:
        api = uow[APIS_REPO].get(api_id_)
        if api is None:
            raise NotFound("API not found", Code.API_NOT_FOUND)
        for app_id, remove in parsed:
            if find_application(uow, app_id) is None:
                raise NotFound(f"Application {app_id} not found", Code.APPLICATION_NOT_FOUND)
            if remove:
                if uow[APIS_REPO].deauthorize(api_id_, app_id):
                    disconnected.append(app_id)
                    uow.record(EventType.API_APPLICATION_DEAUTHORIZED, _access(api, app_id))
            elif uow[APIS_REPO].authorize(api_id_, app_id, now):
                connected.append(app_id)
                uow.record(EventType.API_APPLICATION_AUTHORIZED, _access(api, app_id, scopes=[]))
    return ApplicationChanges(connected, disconnected)


def _resolve_scopes(uow: UnitOfWork, api: Api, keys: Iterable[str] | None) -> list[str]:
    scopes = uow[APIS_REPO].scopes(api.id)
    if keys is None:
        return [s.id for s in scopes]
    by_key = {s.key: s.id for s in scopes}
    wanted = list(dict.fromkeys(keys))
    unknown = [k for k in wanted if k not in by_key]
    if unknown:
        raise ValidationError(f"the API has no scope {unknown[0]}", Code.SCOPE_NOT_FOUND)
    return [by_key[k] for k in wanted]


def authorize_application(
    uow: UnitOfWork,
    clock: Clock,
    application_id: str,
    audience: str,
    scope_keys: Sequence[str] | None,
) -> tuple[Api, list[str]]:
    """Authorize an app for the API with ``audience`` and grant scopes (None = all)."""
    api = uow[APIS_REPO].get_by_audience(audience)
    if api is None:
        raise NotFound(f"No API has the audience {audience}", Code.API_NOT_FOUND)
    if find_application(uow, application_id) is None:
        raise NotFound("Application not found", Code.APPLICATION_NOT_FOUND)
    scope_ids = _resolve_scopes(uow, api, scope_keys)
    before = _granted(uow, api, application_id)
    uow[APIS_REPO].authorize(api.id, application_id, isoformat(clock.now()))
    uow[APIS_REPO].grant_scopes(api.id, application_id, scope_ids)
    wanted = set(scope_ids)
    scopes = uow[APIS_REPO].scopes(api.id)
    granted = [s.key for s in scopes if s.id in wanted]
    _record_access(uow, api, application_id, before, (before or set()) | set(granted), scopes)
    return api, granted


def set_application_scope(
    storage: Storage, api_id_: str, application_id: str, scope_id: str, granted: bool
) -> None:
    """Grant or revoke one scope of an API to an application already authorized for it."""
    with storage.transaction() as uow:
        api = uow[APIS_REPO].get(api_id_)
        if api is None:
            raise NotFound("API not found", Code.API_NOT_FOUND)
        scopes = uow[APIS_REPO].scopes(api_id_)
        scope = next((s for s in scopes if s.id == scope_id), None)
        if scope is None:
            raise NotFound("Scope not found", Code.SCOPE_NOT_FOUND)
        authorized = {a.id for a in uow[APIS_REPO].applications(api_id_)}
        if application_id not in authorized:
            raise ValidationError(
                "The application is not authorized for this API", Code.APPLICATION_NOT_AUTHORIZED
            )
        before = _granted(uow, api, application_id) or set()
        if granted:
            uow[APIS_REPO].grant_scopes(api_id_, application_id, [scope_id])
            after = before | {scope.key}
        else:
            uow[APIS_REPO].revoke_scope(api_id_, application_id, scope_id)
            after = before - {scope.key}
        _record_access(uow, api, application_id, before, after, scopes)


def scope_summary(scopes: Sequence[ApiScope]) -> list[dict[str, Any]]:
    return [{"id": s.id, "key": s.key} for s in scopes]


def _scope_data(scope: ApiScope) -> dict[str, Any]:
    return {"id": scope.id, "key": scope.key, "description": scope.description}


def delete_api(storage: Storage, api_id_: str) -> None:
    """Delete an API; applications lose their authorization for its audience at once."""
    with storage.transaction() as uow:
        api = uow[APIS_REPO].get(api_id_)
        if api is None:
            raise NotFound("API not found", Code.API_NOT_FOUND)
        if api.is_management_api:
            raise ValidationError(
                "The Kinde Management API cannot be deleted", Code.MANAGEMENT_API_NOT_DELETABLE
            )
        uow[APIS_REPO].delete(api_id_)
        uow.record(EventType.API_DELETED, {"api": {"id": api_id_}})


def list_scopes(storage: Storage, api_id_: str) -> list[ApiScope]:
    with storage.read() as uow:
        if uow[APIS_REPO].get(api_id_) is None:
            raise NotFound("API not found", Code.API_NOT_FOUND)
        return uow[APIS_REPO].scopes(api_id_)


def _scope(uow: UnitOfWork, api_id_: str, scope_id: str) -> ApiScope:
    if uow[APIS_REPO].get(api_id_) is None:
        raise NotFound("API not found", Code.API_NOT_FOUND)
    for scope in uow[APIS_REPO].scopes(api_id_):
        if scope.id == scope_id:
            return scope
    raise NotFound("Scope not found", Code.SCOPE_NOT_FOUND)


def get_scope(storage: Storage, api_id_: str, scope_id: str) -> ApiScope:
    with storage.read() as uow:
        return _scope(uow, api_id_, scope_id)


def update_scope(storage: Storage, api_id_: str, scope_id: str, description: object) -> None:
    clean = optional_text(description, "description", DESCRIPTION_MAX, "DESCRIPTION")
    with storage.transaction() as uow:
        scope = _scope(uow, api_id_, scope_id)
        uow[APIS_REPO].update_scope(scope_id, clean)
        if clean != scope.description:
            uow.record(
                EventType.API_SCOPE_UPDATED,
                {
                    "api": {"id": api_id_},
                    "scope": _scope_data(replace(scope, description=clean)),
                    "updated_fields": ["description"],
                },
            )


def delete_scope(storage: Storage, api_id_: str, scope_id: str) -> None:
    """Delete a scope; it disappears from the next token of every application."""
    with storage.transaction() as uow:
        api = uow[APIS_REPO].get(api_id_)
        scope = _scope(uow, api_id_, scope_id)
        if api is not None and api.is_management_api:
            raise ValidationError(
                "Scopes of the Kinde Management API cannot be deleted", Code.SCOPE_NOT_DELETABLE
            )
        uow[APIS_REPO].delete_scope(scope_id)
        uow.record(
            EventType.API_SCOPE_DELETED,
            {"api": {"id": api_id_}, "scope": {"id": scope.id, "key": scope.key}},
        )


# --- for other resources ---------------------------------------------------------------
# Other resources (API keys, organization members, the console's use cases, the token
# endpoint's client store) reach APIs and authorizations through these functions, never
# through the APIs repository; each runs in the caller's unit of work.


def find_api(uow: UnitOfWork, api_id_: str) -> Api | None:
    """The API with this id, or None (the caller picks the error to raise)."""
    return uow[APIS_REPO].get(api_id_)


def api_scopes(uow: UnitOfWork, api_id_: str) -> list[ApiScope]:
    """The API's scopes (empty for an unknown API)."""
    return uow[APIS_REPO].scopes(api_id_)


def all_apis(uow: UnitOfWork, batch: int = 500) -> list[Api]:
    """Every API in creation order, read ``batch`` at a time."""
    apis: list[Api] = []
    after: int | None = None
    while True:
        rows = uow[APIS_REPO].list_page(after, batch)
        apis.extend(api for _, api in rows)
        if len(rows) < batch:
            return apis
        after = rows[-1][0]


def application_authorizations(
    uow: UnitOfWork, application_id: str, audiences: Sequence[str]
) -> list[ApiAuthorization]:
    """The application's authorizations (with granted scopes) for those of ``audiences`` it has."""
    return uow[APIS_REPO].authorizations(application_id, audiences)


def set_application_access(
    uow: UnitOfWork,
    clock: Clock,
    api_id_: str,
    application_id: str,
    authorized: bool,
    scope_keys: Sequence[str],
) -> None:
    """Authorize the application for the API with exactly ``scope_keys``, or revoke it.

    The caller has checked the application exists. Scopes not listed are revoked, so
    the application ends up holding exactly the listed ones; an unknown key changes
    nothing and is a ``SCOPE_NOT_FOUND`` error.
    """
    api = uow[APIS_REPO].get(api_id_)
    if api is None:
        raise NotFound("API not found", Code.API_NOT_FOUND)
    before = _granted(uow, api, application_id)
    if not authorized:
        uow[APIS_REPO].deauthorize(api.id, application_id)
        _record_access(uow, api, application_id, before, None, [])
        return
    wanted = list(dict.fromkeys(scope_keys))
    scopes = uow[APIS_REPO].scopes(api.id)
    by_key = {s.key: s.id for s in scopes}
    unknown = [k for k in wanted if k not in by_key]
    if unknown:
        raise ValidationError(f"the API has no scope {unknown[0]}", Code.SCOPE_NOT_FOUND)
    uow[APIS_REPO].authorize(api.id, application_id, isoformat(clock.now()))
    keep = {by_key[k] for k in wanted}
    uow[APIS_REPO].grant_scopes(api.id, application_id, sorted(keep))
    for scope in scopes:
        if scope.id not in keep:
            uow[APIS_REPO].revoke_scope(api.id, application_id, scope.id)
    _record_access(uow, api, application_id, before, set(wanted), scopes)
