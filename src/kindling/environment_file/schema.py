"""Validating a whole environment file into a ``Document`` before anything is written.

Every problem is collected (unknown and missing keys, wrong types, bad values, repeats)
and reported together, each with its line and key path; only a file without problems
becomes a ``Document``. Values go through the same validators the services apply
(``required_text``, the key rules, ``validate_email``, ``validate_endpoint``, the pinned
id and secret rules), so a file that passes here fails later only on what depends on
the server's state: an email another user has, a permission key that exists nowhere,
and the like. Those are reported by ``reconcile`` with the line of the entry.

The format is documented key by key in ``docs/configuration-as-code.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kindling.platform.errors import ValidationError
from kindling.platform.validation import SCOPE_KEY, optional_text, required_text
from kindling.resources.applications.model import APPLICATION_TYPES
from kindling.resources.applications.service import (
    LIFETIME_MAX,
    LIFETIME_MIN,
    validate_client_id,
    validate_client_secret,
    validate_secret_hash,
)
from kindling.resources.feature_flags.service import FLAG_TYPES, LEVELS, parse_value
from kindling.resources.organizations.service import validate_code
from kindling.resources.permissions.service import validate_key as validate_role_key
from kindling.resources.properties.service import CONTEXTS, PROPERTY_TYPES
from kindling.resources.properties.service import validate_key as validate_property_key
from kindling.resources.users.model import normalize_identity
from kindling.resources.users.service import validate_identity_value, validate_user_id
from kindling.resources.webhooks.service import validate_endpoint, validate_event_types

from .model import (
    MANAGEMENT,
    SECTIONS,
    VERSION,
    ApiSpec,
    ApplicationSpec,
    Document,
    FlagSpec,
    GrantSpec,
    IdentitySpec,
    MemberSpec,
    OrganizationSpec,
    PermissionSpec,
    PropertySpec,
    RoleSpec,
    ScopeSpec,
    UserSpec,
    WebhookSpec,
)
from .source import DocumentError, Path, Problem, Source

T = TypeVar("T")
IDENTITY_TYPES = ("email", "phone", "username")
DEFAULT_CATEGORY = "Properties"
_TOP = ("version", "secret_hash_key", *SECTIONS)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _Checker:
    """Walks the document, collecting problems instead of stopping at the first."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(self.source.problem(path, message))

    def run(self, path: Path, label: str, check: Callable[[Any], T], value: Any) -> T | None:
        """``check(value)``; a ValidationError becomes a problem at ``path`` (the message
        without the field name it starts with) and the result is None."""
        try:
            return check(value)
        except ValidationError as exc:
            message = exc.message
            if message.startswith(label + " "):
                message = message[len(label) + 1 :]
            self.fail(path, message)
            return None

    def mapping(
        self, value: Any, path: Path, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, not {_kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.fail(path + (key,), "is not a known key (expected " + ", ".join(allowed) + ")")
        for key in required:
            if value.get(key) is None:
                self.fail(path + (key,) if key in value else path, f"{key} is required")
        return value

    def items(self, value: Any, path: Path) -> list[tuple[Path, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {_kind(value)}")
            return []
        return [(path + (index,), item) for index, item in enumerate(value)]

    def text(
        self,
        data: dict[str, Any],
        path: Path,
        key: str,
        max_length: int,
        *,
        required: bool = False,
    ) -> str | None:
        value = data.get(key)
        if value is None:
            return None  # ``mapping`` reported a missing required key
        at = path + (key,)
        if required:
            return self.run(at, key, lambda v: required_text(v, key, max_length, "NAME"), value)
        return self.run(at, key, lambda v: optional_text(v, key, max_length, "NAME"), value)

    def boolean(self, data: dict[str, Any], path: Path, key: str, default: bool = False) -> bool:
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path + (key,), f"must be true or false, not {_kind(value)}")
            return default
        return value

    def strings(self, value: Any, path: Path, check: Callable[[Any], str]) -> tuple[str, ...]:
        found: list[str] = []
        for at, item in self.items(value, path):
            if not isinstance(item, str):
                self.fail(at, f"must be a string, not {_kind(item)}")
                continue
            clean = self.run(at, "key", check, item)
            if clean is None:
                continue
            if clean in found:
                self.fail(at, f"{clean} is listed twice")
                continue
            found.append(clean)
        return tuple(found)

    def values(self, value: Any, path: Path) -> tuple[tuple[str, str], ...]:
        """A ``key: value`` mapping of property or flag values; booleans and integers are
        written as their text (``true``, ``12``), as the Management API stores them."""
        if value is None:
            return ()
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping of keys to values, not {_kind(value)}")
            return ()
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            text = scalar_text(item)
            if text is None:
                self.fail(path + (key,), f"must be a string, number or boolean, not {_kind(item)}")
                continue
            pairs.append((key, text))
        return tuple(sorted(pairs))

    def unique(self, seen: dict[str, Path], key: str | None, at: Path, noun: str) -> None:
        if key is None:
            return
        if key in seen:
            first = self.source.line(seen[key])
            where = f" (first at line {first})" if first else ""
            self.fail(at, f"{noun} {key} is given twice{where}")
        else:
            seen[key] = at


def scalar_text(value: Any) -> str | None:
    """A property or flag value as stored: text as is, ``true``/``false``, integers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def _audience(value: Any) -> str:
    audience = required_text(value, "audience", 255, "AUDIENCE")
    if any(ch.isspace() for ch in audience):
        raise ValidationError("audience must not contain spaces")
    if audience == MANAGEMENT:
        raise ValidationError(
            "audience management names the built-in Management API, which is not declared here"
        )
    return audience


def _scope_key(value: Any) -> str:
    key = required_text(value, "key", 128, "KEY")
    if not SCOPE_KEY.fullmatch(key):
        raise ValidationError(
            "key may contain only printable ASCII without spaces, quotes or backslashes"
        )
    return key


def _apis(c: _Checker, data: Any) -> tuple[ApiSpec, ...]:
    specs: list[ApiSpec] = []
    seen: dict[str, Path] = {}
    for path, raw in c.items(data, ("apis",)):
        item = c.mapping(raw, path, ("name", "audience", "scopes"), ("name", "audience"))
        if item is None:
            continue
        name = c.text(item, path, "name", 128, required=True)
        audience = None
        if item.get("audience") is not None:
            audience = c.run(path + ("audience",), "audience", _audience, item["audience"])
        c.unique(seen, audience, path + ("audience",), "the audience")
        scopes: list[ScopeSpec] = []
        keys: dict[str, Path] = {}
        for at, entry in c.items(item.get("scopes"), path + ("scopes",)):
            if isinstance(entry, str):
                entry = {"key": entry}
            scope = c.mapping(entry, at, ("key", "description"), ("key",))
            if scope is None or scope.get("key") is None:
                continue
            key = c.run(at + ("key",), "key", _scope_key, scope["key"])
            c.unique(keys, key, at, "the scope")
            description = c.text(scope, at, "description", 255)
            if key is not None:
                scopes.append(ScopeSpec(key, description))
        if name is not None and audience is not None:
            specs.append(ApiSpec(name, audience, tuple(scopes)))
    return tuple(specs)


def _permissions(c: _Checker, data: Any) -> tuple[PermissionSpec, ...]:
    specs: list[PermissionSpec] = []
    seen: dict[str, Path] = {}
    for path, raw in c.items(data, ("permissions",)):
        item = c.mapping(raw, path, ("key", "name", "description"), ("key", "name"))
        if item is None:
            continue
        key = c.run(path + ("key",), "key", validate_role_key, item.get("key"))
        c.unique(seen, key, path + ("key",), "the permission")
        name = c.text(item, path, "name", 128, required=True)
        description = c.text(item, path, "description", 255)
        if key is not None and name is not None:
            specs.append(PermissionSpec(key, name, description))
    return tuple(specs)


def _roles(c: _Checker, data: Any) -> tuple[RoleSpec, ...]:
    specs: list[RoleSpec] = []
    seen: dict[str, Path] = {}
    allowed = ("key", "name", "description", "is_default_role", "permissions")
    for path, raw in c.items(data, ("roles",)):
        item = c.mapping(raw, path, allowed, ("key", "name"))
        if item is None:
            continue
        key = c.run(path + ("key",), "key", validate_role_key, item.get("key"))
        c.unique(seen, key, path + ("key",), "the role")
        name = c.text(item, path, "name", 128, required=True)
        description = c.text(item, path, "description", 255)
        default = c.boolean(item, path, "is_default_role")
        permissions = c.strings(item.get("permissions"), path + ("permissions",), validate_role_key)
        if key is not None and name is not None:
            specs.append(RoleSpec(key, name, description, default, permissions))
    return tuple(specs)


def _flag_value(c: _Checker, path: Path, type_: str | None, raw: Any, label: str) -> str | None:
    text = scalar_text(raw)
    if text is None:
        c.fail(path, f"must be a string, number or boolean, not {_kind(raw)}")
        return None
    if type_ is None:
        return text
    return c.run(path, label, lambda v: parse_value(type_, v, label), text)


def _feature_flags(c: _Checker, data: Any) -> tuple[FlagSpec, ...]:
    specs: list[FlagSpec] = []
    seen: dict[str, Path] = {}
    allowed = (
        "key",
        "name",
        "description",
        "type",
        "default",
        "allow_override_level",
        "environment_value",
    )
    for path, raw in c.items(data, ("feature_flags",)):
        item = c.mapping(raw, path, allowed, ("key", "name", "default"))
        if item is None:
            continue
        key = c.run(path + ("key",), "key", validate_property_key, item.get("key"))
        c.unique(seen, key, path + ("key",), "the feature flag")
        name = c.text(item, path, "name", 64, required=True)
        description = c.text(item, path, "description", 255)
        type_ = item.get("type")
        default = item.get("default")
        if type_ is None:
            # The type of the default as written: true -> bool, 12 -> int, text -> str.
            type_ = (
                "bool"
                if isinstance(default, bool)
                else "int"
                if isinstance(default, int)
                else "str"
            )
        elif type_ not in FLAG_TYPES:
            c.fail(path + ("type",), "must be one of " + ", ".join(FLAG_TYPES))
            type_ = None
        level = item.get("allow_override_level", "env")
        if level not in LEVELS:
            c.fail(path + ("allow_override_level",), "must be one of " + ", ".join(LEVELS))
        stored = None
        if default is not None:
            stored = _flag_value(c, path + ("default",), type_, default, "default")
        env = None
        if item.get("environment_value") is not None:
            env = _flag_value(
                c, path + ("environment_value",), type_, item["environment_value"], "value"
            )
        if key and name and type_ and stored is not None and level in LEVELS:
            specs.append(FlagSpec(key, name, type_, stored, description, level, env))
    return tuple(specs)


def _properties(c: _Checker, data: Any) -> tuple[PropertySpec, ...]:
    specs: list[PropertySpec] = []
    seen: dict[str, Path] = {}
    allowed = ("key", "name", "description", "context", "type", "is_private", "category")
    for path, raw in c.items(data, ("properties",)):
        item = c.mapping(raw, path, allowed, ("key", "name", "context"))
        if item is None:
            continue
        key = c.run(path + ("key",), "key", validate_property_key, item.get("key"))
        c.unique(seen, key, path + ("key",), "the property")
        name = c.text(item, path, "name", 64, required=True)
        description = c.text(item, path, "description", 255)
        context = item.get("context")
        if context is not None and context not in CONTEXTS:
            c.fail(path + ("context",), "must be one of " + ", ".join(CONTEXTS))
        type_ = item.get("type", "single_line_text")
        if type_ not in PROPERTY_TYPES:
            c.fail(path + ("type",), "must be one of " + ", ".join(PROPERTY_TYPES))
        category = DEFAULT_CATEGORY
        if item.get("category") is not None:
            category = c.text(item, path, "category", 64, required=True) or DEFAULT_CATEGORY
        private = c.boolean(item, path, "is_private")
        if key and name and context in CONTEXTS and type_ in PROPERTY_TYPES:
            specs.append(
                PropertySpec(key, name, str(context), category, str(type_), description, private)
            )
    return tuple(specs)


def _identity_check(kind: str) -> Callable[[Any], str]:
    return lambda value: validate_identity_value(kind, value)


def _users(c: _Checker, data: Any) -> tuple[UserSpec, ...]:
    specs: list[UserSpec] = []
    seen: dict[str, Path] = {}
    identities_seen: dict[str, Path] = {}
    allowed = (
        "id",
        "first_name",
        "last_name",
        "picture",
        "provided_id",
        "is_suspended",
        "identities",
        "properties",
    )
    for path, raw in c.items(data, ("users",)):
        item = c.mapping(raw, path, allowed, ("id",))
        if item is None:
            continue
        user_id = None
        if item.get("id") is not None:
            user_id = c.run(path + ("id",), "id", validate_user_id, item["id"])
        c.unique(seen, user_id, path + ("id",), "the user")
        identities: list[IdentitySpec] = []
        for at, entry in c.items(item.get("identities"), path + ("identities",)):
            ident = c.mapping(entry, at, IDENTITY_TYPES)
            if ident is None:
                continue
            if len(ident) != 1:
                c.fail(at, "must have exactly one of email, phone, username")
                continue
            kind, value = next(iter(ident.items()))
            if kind not in IDENTITY_TYPES:
                continue
            clean = c.run(at + (kind,), kind, _identity_check(kind), value)
            if clean is None:
                continue
            c.unique(
                identities_seen, f"{kind}:{normalize_identity(kind, clean)}", at, f"the {kind}"
            )
            identities.append(IdentitySpec(kind, clean))
        spec = UserSpec(
            id=user_id or "",
            first_name=c.text(item, path, "first_name", 64),
            last_name=c.text(item, path, "last_name", 64),
            picture=c.text(item, path, "picture", 2048),
            provided_id=c.text(item, path, "provided_id", 255),
            is_suspended=c.boolean(item, path, "is_suspended"),
            identities=tuple(identities),
            properties=c.values(item.get("properties"), path + ("properties",)),
        )
        if user_id is not None:
            specs.append(spec)
    return tuple(specs)


def _organizations(c: _Checker, data: Any) -> tuple[OrganizationSpec, ...]:
    specs: list[OrganizationSpec] = []
    seen: dict[str, Path] = {}
    allowed = ("code", "name", "handle", "external_id", "members", "feature_flags", "properties")
    for path, raw in c.items(data, ("organizations",)):
        item = c.mapping(raw, path, allowed, ("code", "name"))
        if item is None:
            continue
        code = None
        if item.get("code") is not None:
            code = c.run(path + ("code",), "code", validate_code, item["code"])
        c.unique(seen, code, path + ("code",), "the organization")
        name = c.text(item, path, "name", 64, required=True)
        members: list[MemberSpec] = []
        member_seen: dict[str, Path] = {}
        for at, entry in c.items(item.get("members"), path + ("members",)):
            if isinstance(entry, str):
                entry = {"user": entry}
            member = c.mapping(entry, at, ("user", "roles", "permissions"), ("user",))
            if member is None or member.get("user") is None:
                continue
            user = c.run(at + ("user",), "id", validate_user_id, member["user"])
            c.unique(member_seen, user, at + ("user",), "the member")
            roles = c.strings(member.get("roles"), at + ("roles",), validate_role_key)
            permissions = c.strings(
                member.get("permissions"), at + ("permissions",), validate_role_key
            )
            if user is not None:
                members.append(MemberSpec(user, roles, permissions))
        spec = OrganizationSpec(
            code=code or "",
            name=name or "",
            handle=c.text(item, path, "handle", 64),
            external_id=c.text(item, path, "external_id", 255),
            members=tuple(members),
            feature_flags=c.values(item.get("feature_flags"), path + ("feature_flags",)),
            properties=c.values(item.get("properties"), path + ("properties",)),
        )
        if code is not None and name is not None:
            specs.append(spec)
    return tuple(specs)


def _lifetime(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("access_token_lifetime must be a whole number of seconds")
    if not LIFETIME_MIN <= value <= LIFETIME_MAX:
        raise ValidationError(
            f"access_token_lifetime must be between {LIFETIME_MIN} and {LIFETIME_MAX} seconds"
        )
    return value


def _applications(c: _Checker, data: Any) -> tuple[ApplicationSpec, ...]:
    specs: list[ApplicationSpec] = []
    seen: dict[str, Path] = {}
    allowed = (
        "client_id",
        "name",
        "type",
        "org_code",
        "client_secret",
        "client_secret_hash",
        "access_token_lifetime",
        "authorize",
        "properties",
    )
    for path, raw in c.items(data, ("applications",)):
        item = c.mapping(raw, path, allowed, ("client_id", "name"))
        if item is None:
            continue
        client_id = None
        if item.get("client_id") is not None:
            client_id = c.run(
                path + ("client_id",), "client_id", validate_client_id, item["client_id"]
            )
        c.unique(seen, client_id, path + ("client_id",), "the client id")
        name = c.text(item, path, "name", 128, required=True)
        type_ = item.get("type", "m2m")
        if type_ not in APPLICATION_TYPES:
            c.fail(path + ("type",), "must be one of " + ", ".join(APPLICATION_TYPES))
        org_code = None
        if item.get("org_code") is not None:
            org_code = c.run(path + ("org_code",), "code", validate_code, item["org_code"])
        secret = secret_hash = None
        if item.get("client_secret") is not None and item.get("client_secret_hash") is not None:
            c.fail(path + ("client_secret_hash",), "give client_secret or client_secret_hash")
        elif item.get("client_secret") is not None:
            secret = c.run(
                path + ("client_secret",),
                "client_secret",
                validate_client_secret,
                item["client_secret"],
            )
        elif item.get("client_secret_hash") is not None:
            secret_hash = c.run(
                path + ("client_secret_hash",),
                "client_secret_hash",
                validate_secret_hash,
                item["client_secret_hash"],
            )
        lifetime = 86_400
        if item.get("access_token_lifetime") is not None:
            lifetime = (
                c.run(
                    path + ("access_token_lifetime",),
                    "access_token_lifetime",
                    _lifetime,
                    item["access_token_lifetime"],
                )
                or lifetime
            )
        grants: list[GrantSpec] = []
        apis: dict[str, Path] = {}
        for at, entry in c.items(item.get("authorize"), path + ("authorize",)):
            if isinstance(entry, str):
                entry = {"api": entry}
            grant = c.mapping(entry, at, ("api", "scopes"), ("api",))
            if grant is None or grant.get("api") is None:
                continue
            api = grant["api"]
            if not isinstance(api, str) or not api.strip() or any(ch.isspace() for ch in api):
                c.fail(at + ("api",), "must be management or an API's audience")
                continue
            c.unique(apis, api, at + ("api",), "the API")
            scopes = None
            if "scopes" in grant and grant["scopes"] is not None:
                scopes = c.strings(grant["scopes"], at + ("scopes",), _scope_key)
            grants.append(GrantSpec(api, scopes))
        spec = ApplicationSpec(
            client_id=client_id or "",
            name=name or "",
            type=str(type_),
            org_code=org_code,
            client_secret=secret,
            client_secret_hash=secret_hash,
            access_token_lifetime=lifetime,
            authorize=tuple(grants),
            properties=c.values(item.get("properties"), path + ("properties",)),
        )
        if client_id is not None and name is not None:
            specs.append(spec)
    return tuple(specs)


def _webhooks(c: _Checker, data: Any) -> tuple[WebhookSpec, ...]:
    specs: list[WebhookSpec] = []
    seen: dict[str, Path] = {}
    allowed = ("name", "endpoint", "event_types", "description")
    for path, raw in c.items(data, ("webhooks",)):
        item = c.mapping(raw, path, allowed, ("name", "endpoint", "event_types"))
        if item is None:
            continue
        name = c.text(item, path, "name", 128, required=True)
        c.unique(seen, name, path + ("name",), "the webhook")
        endpoint = None
        if item.get("endpoint") is not None:
            endpoint = c.run(path + ("endpoint",), "endpoint", validate_endpoint, item["endpoint"])
        types = None
        if item.get("event_types") is not None:
            types = c.run(
                path + ("event_types",), "event_types", validate_event_types, item["event_types"]
            )
        description = c.text(item, path, "description", 1000)
        if name and endpoint and types:
            specs.append(WebhookSpec(name, endpoint, tuple(types), description))
    return tuple(specs)


def validate(source: Source) -> Document:
    """The file as a ``Document``, or ``DocumentError`` listing every problem in it."""
    c = _Checker(source)
    data = source.data
    if not isinstance(data, dict):
        c.fail((), f"the file must be a mapping of sections, not {_kind(data)}")
        raise DocumentError(c.problems, source.name)
    c.mapping(data, (), _TOP)
    version = data.get("version", VERSION)
    if version != VERSION or isinstance(version, bool):
        c.fail(("version",), f"must be {VERSION} (the only version of this format)")
    hash_key = data.get("secret_hash_key")
    if hash_key is not None and not isinstance(hash_key, str):
        c.fail(("secret_hash_key",), f"must be a string, not {_kind(hash_key)}")
        hash_key = None
    document = Document(
        apis=_apis(c, data.get("apis")),
        permissions=_permissions(c, data.get("permissions")),
        roles=_roles(c, data.get("roles")),
        feature_flags=_feature_flags(c, data.get("feature_flags")),
        properties=_properties(c, data.get("properties")),
        users=_users(c, data.get("users")),
        organizations=_organizations(c, data.get("organizations")),
        applications=_applications(c, data.get("applications")),
        webhooks=_webhooks(c, data.get("webhooks")),
        present=frozenset(s for s in SECTIONS if s in data),
        secret_hash_key=hash_key,
    )
    if hash_key is None and any(a.client_secret_hash for a in document.applications):
        path = next(
            ("applications", i, "client_secret_hash")
            for i, a in enumerate(document.applications)
            if a.client_secret_hash
        )
        c.fail(path, "needs secret_hash_key at the top of the file (kindling export writes both)")
    if c.problems:
        raise DocumentError(c.problems, source.name)
    return document
