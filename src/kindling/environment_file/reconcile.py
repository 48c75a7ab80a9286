"""``kindling apply``: make the server hold what the file says, in one transaction.

``apply_document`` opens one unit of work and hands the resources' services a storage
that joins it (``JoinedStorage``): each service validates, writes and records its events
exactly as it does for a Management API call, but nothing commits until the whole file
is through. Any error rolls everything back, and is reported with the line of the entry
that caused it; so a file applies completely or not at all.

What changes is decided by comparing each entity of the file with the server's, field
by field, on the values as the services store them. Only differences are written, so a
second apply of the same file changes nothing: no rows, no events, no audit entries.
The changes made (or, with ``dry_run``, the ones that would be made: the same code runs
and the transaction is rolled back) come back as a ``Plan``.

Rules (``docs/configuration-as-code.md``):

* An entity in the file is described completely: its lists (an API's scopes, a role's
  permissions, a user's identities, an organization's members, an application's
  authorizations) and its property values are made exactly what the file says.
* Entities the file does not name are left alone, unless ``prune`` is given: then those
  of every section the file has (even as ``[]``) are deleted. The application making a
  remote call (``keep_client_id``) is never pruned.
* What the services cannot change in place is refused (``ENVIRONMENT_FILE_CONFLICT``):
  an application's type or organization, an API's name, a property's context or type.
  A webhook whose endpoint changed is replaced (deleted and created again).

Order: prunes first (webhooks, applications, organizations, users, properties, feature
flags, APIs, roles, permissions), then creates and updates in dependency order
(permissions, roles, APIs, feature flags, properties, users, organizations,
applications, webhooks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.errors import KindlingError, ValidationError
from kindling.platform.storage import Storage, UnitOfWork
from kindling.resources.apis import service as apis
from kindling.resources.apis.model import Api
from kindling.resources.apis.repository import APIS_REPO
from kindling.resources.applications import service as applications
from kindling.resources.applications.repository import APPLICATIONS_REPO
from kindling.resources.feature_flags import service as flags
from kindling.resources.feature_flags.repository import FEATURE_FLAGS_REPO
from kindling.resources.organizations import service as organizations
from kindling.resources.organizations.members import service as members
from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO
from kindling.resources.organizations.repository import ORGANIZATIONS_REPO
from kindling.resources.permissions import service as permissions
from kindling.resources.permissions.repository import PERMISSIONS_REPO
from kindling.resources.properties import service as properties
from kindling.resources.properties.repository import PROPERTIES_REPO
from kindling.resources.roles import service as roles
from kindling.resources.roles.repository import ROLES_REPO
from kindling.resources.users import service as users
from kindling.resources.users.accounts import service as accounts
from kindling.resources.users.model import normalize_identity
from kindling.resources.users.repository import USERS_REPO
from kindling.resources.webhooks import service as webhooks

from . import state
from .model import (
    MANAGEMENT,
    ApiSpec,
    ApplicationSpec,
    Document,
    FlagSpec,
    OrganizationSpec,
    PermissionSpec,
    PropertySpec,
    RoleSpec,
    UserSpec,
    WebhookSpec,
)
from .source import Path, Problem, Source

MAX_BULK = 100
_SYMBOL = {"create": "+", "update": "~", "delete": "-"}


@dataclass(frozen=True)
class Change:
    """One entity created, updated (with the fields that changed) or deleted."""

    action: str
    kind: str
    key: str
    fields: tuple[str, ...] = ()

    def render(self) -> str:
        text = f"{_SYMBOL[self.action]} {self.kind} {self.key}"
        return f"{text} ({', '.join(self.fields)})" if self.fields else text

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "key": self.key,
            "fields": list(self.fields),
        }


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    #: False for a dry run (the changes were computed, then rolled back).
    applied: bool

    def render(self) -> str:
        if not self.changes:
            return "No changes."
        counts = {a: sum(c.action == a for c in self.changes) for a in _SYMBOL}
        verb = "Applied" if self.applied else "Would apply"
        summary = ", ".join(f"{n} to {a}" for a, n in counts.items() if n)
        lines = [c.render() for c in self.changes]
        total = len(self.changes)
        noun = "change" if total == 1 else "changes"
        return "\n".join([*lines, f"{verb} {total} {noun}: {summary}."])

    def as_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "changes": [c.as_json() for c in self.changes]}


class ApplyError(KindlingError):
    """A service refused a change the file asks for (its code and status kept); the
    message names the line and key of the entry; nothing was written."""

    def __init__(self, problem: Problem, name: str | None, cause: KindlingError) -> None:
        super().__init__(problem.render(name), None)
        self.code = cause.code
        self.status_code = cause.status_code
        self.problem = problem


class ConflictError(ValidationError):
    code = Code.ENVIRONMENT_FILE_CONFLICT


class JoinedStorage(Storage):
    """A ``Storage`` whose transactions and reads are all one open unit of work, so that
    service functions taking a storage join the caller's transaction."""

    def __init__(self, storage: Storage, uow: UnitOfWork) -> None:
        # Deliberately not Storage.__init__: nothing here opens sessions of its own.
        self.engine = storage.engine
        self.audit = storage.audit
        self._uow = uow

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        yield self._uow

    @contextmanager
    def read(self, one_statement: bool = False) -> Iterator[UnitOfWork]:
        yield self._uow

    def close(self) -> None:
        pass


class _DryRun(Exception):
    """Raised at the end of a dry run to roll its transaction back."""


def _index(source: Source | None, section: str, field: str, value: str) -> int | None:
    if source is None or not isinstance(source.data, dict):
        return None
    items = source.data.get(section)
    if not isinstance(items, list):
        return None
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get(field) == value:
            return index
    return None


class _Reconciler:
    def __init__(
        self,
        ctx: Context,
        uow: UnitOfWork,
        document: Document,
        source: Source | None,
        keep_client_id: str | None,
    ) -> None:
        self.ctx = ctx
        self.uow = uow
        self.storage = JoinedStorage(ctx.storage, uow)
        self.clock = ctx.clock
        self.document = document
        self.source = source or Source.from_value({})
        self.keep = keep_client_id
        self.changes: list[Change] = []

    # --- bookkeeping ------------------------------------------------------------------

    def note(self, action: str, kind: str, key: str, fields: tuple[str, ...] = ()) -> None:
        self.changes.append(Change(action, kind, key, fields))

    def path(self, section: str, field: str, value: str) -> Path:
        index = _index(self.source, section, field, value)
        return (section,) if index is None else (section, index)

    @contextmanager
    def at(self, path: Path) -> Iterator[None]:
        """Report a service's refusal with the line and key of the entry at ``path``."""
        try:
            yield
        except ApplyError:
            raise
        except KindlingError as exc:
            problem = self.source.problem(path, exc.message)
            raise ApplyError(problem, self.source.name, exc) from None

    # --- entry point ------------------------------------------------------------------

    def run(self, prune: bool) -> list[Change]:
        doc = self.document
        if prune:
            self.prune()
        for permission in doc.permissions:
            with self.at(self.path("permissions", "key", permission.key)):
                self.permission(permission)
        for role in doc.roles:
            with self.at(self.path("roles", "key", role.key)):
                self.role(role)
        for api in doc.apis:
            with self.at(self.path("apis", "audience", api.audience)):
                self.api(api)
        for flag in doc.feature_flags:
            with self.at(self.path("feature_flags", "key", flag.key)):
                self.flag(flag)
        for prop in doc.properties:
            with self.at(self.path("properties", "key", prop.key)):
                self.property(prop)
        for user in doc.users:
            with self.at(self.path("users", "id", user.id)):
                self.user(user)
        for org in doc.organizations:
            with self.at(self.path("organizations", "code", org.code)):
                self.organization(org)
        for app in doc.applications:
            with self.at(self.path("applications", "client_id", app.client_id)):
                self.application(app)
        for hook in doc.webhooks:
            with self.at(self.path("webhooks", "name", hook.name)):
                self.webhook(hook)
        return self.changes

    # --- prune ------------------------------------------------------------------------

    def prune(self) -> None:
        doc, uow, storage = self.document, self.uow, self.storage
        present = doc.present
        if "webhooks" in present:
            wanted = {w.name for w in doc.webhooks}
            for hook in state.all_webhooks(uow):
                if hook.name not in wanted:
                    webhooks.delete_webhook(storage, hook.id)
                    self.note("delete", "webhook", hook.name)
        if "applications" in present:
            wanted = {a.client_id for a in doc.applications}
            for app in state.all_applications(uow):
                if app.id not in wanted and app.id != self.keep:
                    applications.delete_application(storage, app.id)
                    self.note("delete", "application", app.id)
        if "organizations" in present:
            wanted = {o.code for o in doc.organizations}
            for org in state.all_organizations(uow):
                if org.code not in wanted:
                    organizations.delete_organization(storage, org.code)
                    self.note("delete", "organization", org.code)
        if "users" in present:
            wanted = {u.id for u in doc.users}
            for user in state.all_users(uow):
                if user.id not in wanted:
                    users.delete_user(storage, user.id)
                    self.note("delete", "user", user.id)
        if "properties" in present:
            wanted = {p.key for p in doc.properties}
            for prop in state.all_properties(uow):
                if prop.key not in wanted:
                    properties.delete_property(storage, prop.id)
                    self.note("delete", "property", prop.key)
        if "feature_flags" in present:
            wanted = {f.key for f in doc.feature_flags}
            for flag in state.all_flags(uow):
                if flag.key not in wanted:
                    flags.delete_flag(storage, flag.key)
                    self.note("delete", "feature_flag", flag.key)
        if "apis" in present:
            wanted = {a.audience for a in doc.apis}
            for api in state.all_apis(uow):
                if not api.is_management_api and api.audience not in wanted:
                    apis.delete_api(storage, api.id)
                    self.note("delete", "api", api.audience)
        if "roles" in present:
            wanted = {r.key for r in doc.roles}
            for role in state.all_roles(uow):
                if role.key not in wanted:
                    roles.delete_role(storage, role.id)
                    self.note("delete", "role", role.key)
        if "permissions" in present:
            wanted = {p.key for p in doc.permissions}
            for perm in state.all_permissions(uow):
                if perm.key not in wanted:
                    permissions.delete_permission(storage, perm.id)
                    self.note("delete", "permission", perm.key)

    # --- sections -----------------------------------------------------------------------

    def permission(self, spec: PermissionSpec) -> None:
        current = self.uow[PERMISSIONS_REPO].get_by_key(spec.key)
        body = {"key": spec.key, "name": spec.name, "description": spec.description}
        if current is None:
            permissions.create_permission(self.storage, self.clock, body)
            self.note("create", "permission", spec.key)
            return
        changed = _differs(current, spec, ("name", "description"))
        if changed:
            permissions.update_permission(self.storage, current.id, body)
            self.note("update", "permission", spec.key, changed)

    def role(self, spec: RoleSpec) -> None:
        current = self.uow[ROLES_REPO].get_by_key(spec.key)
        body = {
            "key": spec.key,
            "name": spec.name,
            "description": spec.description,
            "is_default_role": spec.is_default_role,
        }
        fields: list[str] = []
        if current is None:
            current = roles.create_role(self.storage, self.clock, body)
            action = "create"
        else:
            action = "update"
            fields += _differs(current, spec, ("name", "description", "is_default_role"))
            if fields:
                roles.update_role(self.storage, current.id, body)
        wanted: dict[str, str] = {}
        for index, key in enumerate(spec.permissions):
            found = self.uow[PERMISSIONS_REPO].get_by_key(key)
            if found is None:
                path = self.path("roles", "key", spec.key) + ("permissions", index)
                raise ApplyError(
                    self.source.problem(path, f"no permission has the key {key}"),
                    self.source.name,
                    ValidationError("", Code.PERMISSION_NOT_FOUND),
                )
            wanted[found.id] = key
        held = self.uow[ROLES_REPO].permission_ids(current.id)
        items: list[dict[str, Any]] = [{"id": pid} for pid in wanted if pid not in held]
        items += [{"id": pid, "operation": "delete"} for pid in sorted(held) if pid not in wanted]
        for start in range(0, len(items), MAX_BULK):
            roles.update_role_permissions(self.storage, current.id, items[start : start + MAX_BULK])
        if items:
            fields.append("permissions")
        if action == "create" or fields:
            self.note(action, "role", spec.key, tuple(fields) if action == "update" else ())

    def api(self, spec: ApiSpec) -> None:
        repo = self.uow[APIS_REPO]
        current = repo.get_by_audience(spec.audience)
        fields: list[str] = []
        if current is None:
            current = apis.create_api(self.storage, self.clock, spec.name, spec.audience)
            action = "create"
        else:
            action = "update"
            if current.is_management_api:
                raise ConflictError(
                    "this is the built-in Management API's audience; authorize it with "
                    "api: management instead of declaring it"
                )
            if current.name != spec.name:
                raise ConflictError(
                    f"the API exists with the name {current.name!r}; an API cannot be "
                    "renamed (delete it, or keep its name)"
                )
        scopes = {s.key: s for s in repo.scopes(current.id)}
        wanted = {s.key for s in spec.scopes}
        for key, scope in scopes.items():
            if key not in wanted:
                apis.delete_scope(self.storage, current.id, scope.id)
                fields.append(f"-scope {key}")
        for spec_scope in spec.scopes:
            found = scopes.get(spec_scope.key)
            if found is None:
                apis.add_scope(self.storage, current.id, spec_scope.key, spec_scope.description)
                fields.append(f"+scope {spec_scope.key}")
            elif found.description != spec_scope.description:
                apis.update_scope(self.storage, current.id, found.id, spec_scope.description)
                fields.append(f"~scope {spec_scope.key}")
        if action == "create":
            self.note("create", "api", spec.audience)
        elif fields:
            self.note("update", "api", spec.audience, tuple(fields))

    def flag(self, spec: FlagSpec) -> None:
        current = self.uow[FEATURE_FLAGS_REPO].get_by_key(spec.key)
        definition: dict[str, Any] = {
            "key": spec.key,
            "name": spec.name,
            "type": spec.type,
            "allow_override_level": spec.allow_override_level,
            "default_value": spec.default,
        }
        if spec.description is not None:
            definition["description"] = spec.description
        fields: list[str] = []
        if current is None:
            flags.create_flag(self.storage, self.clock, definition)
            action = "create"
            environment_value = None
        else:
            action = "update"
            fields = list(
                _differs(
                    current,
                    spec,
                    ("name", "description", "type", "allow_override_level"),
                )
            )
            if current.default_value != spec.default:
                fields.append("default")
            if fields:
                query = {k: v for k, v in definition.items() if k != "key"}
                updated = flags.update_flag(self.storage, spec.key, query)
                environment_value = updated.environment_value
            else:
                environment_value = current.environment_value
        if environment_value != spec.environment_value:
            if spec.environment_value is None:
                flags.delete_environment_value(self.storage, spec.key)
            else:
                flags.set_environment_value(self.storage, spec.key, spec.environment_value)
            fields.append("environment_value")
        if action == "create":
            self.note("create", "feature_flag", spec.key)
        elif fields:
            self.note("update", "feature_flag", spec.key, tuple(fields))

    def _category(self, context: str, name: str) -> str:
        for category in state.all_categories(self.uow):
            if category.context == context and category.name == name:
                return category.id
        created = properties.create_category(
            self.storage, self.clock, {"name": name, "context": context}
        )
        self.note("create", "property_category", f"{context}:{name}")
        return created.id

    def property(self, spec: PropertySpec) -> None:
        current = self.uow[PROPERTIES_REPO].get_by_key(spec.key)
        category_id = self._category(spec.context, spec.category)
        body: dict[str, Any] = {
            "key": spec.key,
            "name": spec.name,
            "type": spec.type,
            "context": spec.context,
            "is_private": spec.is_private,
            "category_id": category_id,
            "description": spec.description,
        }
        if current is None:
            properties.create_property(self.storage, self.clock, body)
            self.note("create", "property", spec.key)
            return
        for field in ("context", "type"):
            if getattr(current, field) != getattr(spec, field):
                raise ConflictError(
                    f"the property exists with {field} {getattr(current, field)}; the {field} "
                    "of a property cannot change (delete it first)"
                )
        fields = list(_differs(current, spec, ("name", "description", "is_private")))
        if current.category_id != category_id:
            fields.append("category")
        if fields:
            properties.update_property(self.storage, current.id, body)
            self.note("update", "property", spec.key, tuple(fields))

    def values(self, context: str, subject: str, wanted: tuple[tuple[str, str], ...]) -> bool:
        """Make the subject's property values exactly ``wanted``; True if any changed."""
        have = dict(state.property_values(self.uow, context, subject))
        target = dict(wanted)
        changes: dict[str, str | None] = {k: v for k, v in target.items() if have.get(k) != v}
        changes.update({k: None for k in have if k not in target})
        if changes:
            properties.set_values(self.storage, context, subject, changes)
        return bool(changes)

    def user(self, spec: UserSpec) -> None:
        current = self.uow[USERS_REPO].get(spec.id)
        fields: list[str] = []
        if current is None:
            body: dict[str, Any] = {
                "profile": {
                    "given_name": spec.first_name,
                    "family_name": spec.last_name,
                    "picture": spec.picture,
                },
                "identities": [
                    {"type": i.type, "details": {i.type: i.value}} for i in spec.identities
                ],
                "provided_id": spec.provided_id,
            }
            users.create_user(self.storage, self.clock, body, pinned_id=spec.id)
            if spec.is_suspended:
                users.update_user(self.storage, spec.id, {"is_suspended": True})
            self.values("usr", spec.id, spec.properties)
            self.note("create", "user", spec.id)
            return
        names = {
            "first_name": "given_name",
            "last_name": "family_name",
            "picture": "picture",
            "provided_id": "provided_id",
            "is_suspended": "is_suspended",
        }
        changed = _differs(current, spec, tuple(names))
        if changed:
            users.update_user(self.storage, spec.id, {names[f]: getattr(spec, f) for f in changed})
            fields += changed
        if self.identities(spec):
            fields.append("identities")
        if self.values("usr", spec.id, spec.properties):
            fields.append("properties")
        if fields:
            self.note("update", "user", spec.id, tuple(fields))

    def identities(self, spec: UserSpec) -> bool:
        """Make the user's email, phone and username identities the file's, the first of
        each type primary; True if anything changed."""

        def key(kind: str, value: str) -> tuple[str, str]:
            return (kind, normalize_identity(kind, value))

        def current() -> dict[tuple[str, str], Any]:
            found = self.uow[USERS_REPO].identities([spec.id]).get(spec.id, [])
            return {key(i.type, i.value): i for i in found if i.type in state.IDENTITY_ORDER}

        wanted = [key(i.type, i.value) for i in spec.identities]
        have = current()
        changed = False
        for identity_key, identity in have.items():
            if identity_key not in wanted:
                accounts.delete_identity(self.storage, identity.id)
                changed = True
        for identity in spec.identities:
            if key(identity.type, identity.value) not in have:
                accounts.create_identity(
                    self.storage,
                    self.clock,
                    spec.id,
                    {"type": identity.type, "value": identity.value},
                )
                changed = True
        have = current()
        for kind in state.IDENTITY_ORDER:
            first = next((k for k in wanted if k[0] == kind), None)
            if first is not None and not have[first].is_primary:
                accounts.update_identity(self.storage, have[first].id, {"is_primary": True})
                changed = True
        return changed

    def organization(self, spec: OrganizationSpec) -> None:
        current = self.uow[ORGANIZATIONS_REPO].get(spec.code)
        fields: list[str] = []
        if current is None:
            body: dict[str, Any] = {"name": spec.name}
            if spec.handle is not None:
                body["handle"] = spec.handle
            if spec.external_id is not None:
                body["external_id"] = spec.external_id
            organizations.create_organization(self.storage, self.clock, body, pinned_code=spec.code)
            action = "create"
        else:
            action = "update"
            changed = _differs(current, spec, ("name", "handle", "external_id"))
            if changed:
                organizations.update_organization(
                    self.storage,
                    self.clock,
                    spec.code,
                    {f: getattr(spec, f) for f in changed},
                )
                fields += changed
        if self.members(spec):
            fields.append("members")
        if self.org_flags(spec):
            fields.append("feature_flags")
        if self.values("org", spec.code, spec.properties):
            fields.append("properties")
        if action == "create":
            self.note("create", "organization", spec.code)
        elif fields:
            self.note("update", "organization", spec.code, tuple(fields))

    def members(self, spec: OrganizationSpec) -> bool:
        code, repo = spec.code, self.uow[MEMBERSHIPS_REPO]
        have = {m.user: m for m in state.members_of(self.uow, code)}
        wanted = {m.user: m for m in spec.members}
        changed = False
        for user_id in have:
            if user_id not in wanted:
                members.remove_user(self.storage, code, user_id)
                changed = True
        for member in spec.members:
            held = have.get(member.user)
            roles_held = set(held.roles) if held else set()
            perms_held = set(held.permissions) if held else set()
            add_roles = [r for r in member.roles if r not in roles_held]
            add_perms = [p for p in member.permissions if p not in perms_held]
            if held is None or add_roles or add_perms:
                entry = {"id": member.user, "roles": add_roles, "permissions": add_perms}
                members.add_users(self.storage, self.clock, code, {"users": [entry]})
                changed = True
            if held is None:
                continue
            for role in repo.member_roles(code, member.user):
                if role.key not in member.roles:
                    members.remove_user_role(self.storage, code, member.user, role.id)
                    changed = True
            direct = repo.direct_permission_ids(code, member.user)
            for perm in repo.member_permissions(code, member.user):
                if perm.id in direct and perm.key not in member.permissions:
                    members.remove_user_permission(self.storage, code, member.user, perm.id)
                    changed = True
        return changed

    def org_flags(self, spec: OrganizationSpec) -> bool:
        have = dict(state.flag_overrides(self.uow, spec.code))
        wanted = dict(spec.feature_flags)
        changed = False
        for key in have:
            if key not in wanted:
                flags.delete_organization_value(self.storage, spec.code, key)
                changed = True
        for key, value in wanted.items():
            if have.get(key) != value:
                flags.set_organization_value(self.storage, spec.code, key, value)
                changed = True
        return changed

    def application(self, spec: ApplicationSpec) -> None:
        current = self.uow[APPLICATIONS_REPO].get(spec.client_id)
        if spec.client_secret_hash is not None:
            own = state.secret_hash_key(self.ctx.hasher)
            if self.document.secret_hash_key != own:
                raise ValidationError(
                    "client_secret_hash was exported under another master key (its "
                    "secret_hash_key is not this server's): give client_secret instead, or "
                    "serve with the exporting server's master key (KINDLING_MASTER_KEY)",
                    Code.SECRET_HASH_KEY_MISMATCH,
                )
        fields: list[str] = []
        if current is None:
            applications.add_application(
                self.uow,
                self.ctx.hasher,
                self.clock,
                spec.name,
                spec.type,
                spec.org_code,
                pinned_id=spec.client_id,
                pinned_secret=spec.client_secret,
                pinned_secret_hash=spec.client_secret_hash,
            )
            action = "create"
        else:
            action = "update"
            for field, shown in (("type", current.type), ("org_code", current.org_code)):
                if getattr(spec, field) != shown:
                    raise ConflictError(
                        f"the application exists with {field} {shown}; the {field} of an "
                        "application cannot change (delete it first)"
                    )
            if current.name != spec.name:
                applications.update_application(self.storage, spec.client_id, {"name": spec.name})
                fields.append("name")
            if spec.client_secret is not None or spec.client_secret_hash is not None:
                if applications.pin_secret(
                    self.uow,
                    self.ctx.hasher,
                    self.clock,
                    spec.client_id,
                    spec.client_secret,
                    spec.client_secret_hash,
                ):
                    fields.append("client_secret")
        lifetime = self.uow[APPLICATIONS_REPO].get(spec.client_id)
        if lifetime is not None and lifetime.access_token_lifetime != spec.access_token_lifetime:
            applications.update_tokens(
                self.storage,
                spec.client_id,
                {"access_token_lifetime": spec.access_token_lifetime},
            )
            fields.append("access_token_lifetime")
        if self.authorize(spec):
            fields.append("authorize")
        if self.values("app", spec.client_id, spec.properties):
            fields.append("properties")
        if action == "create":
            self.note("create", "application", spec.client_id)
        elif fields:
            self.note("update", "application", spec.client_id, tuple(fields))

    def _api_for(self, name: str, path: Path) -> Api:
        repo = self.uow[APIS_REPO]
        found = repo.get_management_api() if name == MANAGEMENT else repo.get_by_audience(name)
        if found is None:
            raise ApplyError(
                self.source.problem(path, f"no API has the audience {name}"),
                self.source.name,
                ValidationError("", Code.API_NOT_FOUND),
            )
        return found

    def authorize(self, spec: ApplicationSpec) -> bool:
        repo = self.uow[APIS_REPO]
        base = self.path("applications", "client_id", spec.client_id)
        every = state.all_apis(self.uow)
        held = {
            a.api.id: set(a.scopes)
            for a in repo.authorizations(spec.client_id, [api.audience for api in every])
        }
        changed = False
        wanted: set[str] = set()
        for index, grant in enumerate(spec.authorize):
            at = base + ("authorize", index)
            api = self._api_for(grant.api, at + ("api",))
            wanted.add(api.id)
            keys = [s.key for s in repo.scopes(api.id)] if grant.scopes is None else grant.scopes
            if held.get(api.id) != set(keys):
                with self.at(at):
                    apis.set_application_access(
                        self.uow, self.clock, api.id, spec.client_id, True, list(keys)
                    )
                changed = True
        for api_id in held:
            if api_id not in wanted:
                apis.set_application_access(self.uow, self.clock, api_id, spec.client_id, False, [])
                changed = True
        return changed

    def webhook(self, spec: WebhookSpec) -> None:
        same = [w for w in state.all_webhooks(self.uow) if w.name == spec.name]
        if len(same) > 1:
            raise ConflictError(
                f"{len(same)} webhooks are named {spec.name}; rename or delete all but one"
            )
        body: dict[str, Any] = {
            "name": spec.name,
            "endpoint": spec.endpoint,
            "event_types": list(spec.event_types),
            "description": spec.description,
        }
        current = same[0] if same else None
        if current is not None and current.endpoint != spec.endpoint:
            webhooks.delete_webhook(self.storage, current.id)
            webhooks.create_webhook(self.storage, self.clock, body)
            self.note("update", "webhook", spec.name, ("endpoint (replaced)",))
            return
        if current is None:
            webhooks.create_webhook(self.storage, self.clock, body)
            self.note("create", "webhook", spec.name)
            return
        changed = _differs(current, spec, ("event_types", "description"))
        if changed:
            update = {k: body[k] for k in changed}
            webhooks.update_webhook(self.storage, current.id, update)
            self.note("update", "webhook", spec.name, changed)


def _differs(current: object, spec: object, names: tuple[str, ...]) -> tuple[str, ...]:
    """The names of the fields whose values differ between the two."""
    return tuple(n for n in names if getattr(current, n) != getattr(spec, n))


def apply_document(
    ctx: Context,
    document: Document,
    source: Source | None = None,
    *,
    prune: bool = False,
    dry_run: bool = False,
    keep_client_id: str | None = None,
) -> Plan:
    """Apply ``document`` to ``ctx``'s storage in one transaction (see the module doc)."""
    changes: list[Change] = []
    try:
        with ctx.storage.transaction() as uow:
            if uow[APIS_REPO].get_management_api() is None:
                raise ValidationError(
                    "this environment has not been set up yet: run `kindling serve` once",
                    Code.INVALID_ENVIRONMENT_FILE,
                )
            changes = _Reconciler(ctx, uow, document, source, keep_client_id).run(prune)
            if dry_run:
                raise _DryRun
    except _DryRun:
        return Plan(tuple(changes), applied=False)
    return Plan(tuple(changes), applied=True)
