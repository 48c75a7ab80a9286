"""``kindling export``: the environment as a file ``kindling apply`` reads back.

``document_data`` turns a ``Document`` into the plain mapping of the file (defaults left
out, lists in the canonical order ``state`` reads them in), ``dump_yaml`` writes it, and
``export_data`` does both halves for a ``Context``. Applying the output to an empty
server (same master key, ``--prune``) and exporting that server gives the same bytes.

Secrets cannot be exported: storage holds keyed hashes only. Each application gets the
hash of its newest working secret as ``client_secret_hash``, with the file's
``secret_hash_key`` saying which master key made it; ``apply`` accepts the hash instead of
a secret only under that master key, so the same secret keeps working. Not exported:
signing keys, the issuer, the console's accounts, the audit log, webhook deliveries, and
whatever the format does not name (logos, colours, callback URLs, passwords, MFA).
"""

from __future__ import annotations

from typing import Any

import yaml

from kindling.platform.context import Context

from .model import VERSION, Document, FlagSpec
from .state import read_document

HEADER = (
    "# A Kindling environment file (docs/configuration-as-code.md), written by kindling export.\n"
    "# Apply it with: kindling apply FILE [--prune]\n"
)


def _typed(value: str, type_: str | None) -> Any:
    """A flag value as YAML shows it naturally: ``true``, ``12`` or text."""
    if type_ == "bool":
        return value == "true"
    if type_ == "int":
        return int(value)
    return value


def _put(target: dict[str, Any], key: str, value: Any, default: Any = None) -> None:
    """Set ``key`` unless ``value`` is its default or an empty list or mapping."""
    if isinstance(value, tuple | list | dict) and not value:
        return
    if value != default:
        target[key] = value


def document_data(document: Document) -> dict[str, Any]:
    """The file's mapping: every section, defaults left out."""
    flags: dict[str, FlagSpec] = {f.key: f for f in document.feature_flags}
    data: dict[str, Any] = {"version": VERSION}
    if document.secret_hash_key:
        data["secret_hash_key"] = document.secret_hash_key
    data["apis"] = [
        {
            "name": api.name,
            "audience": api.audience,
            "scopes": [
                s.key if s.description is None else {"key": s.key, "description": s.description}
                for s in api.scopes
            ],
        }
        for api in document.apis
    ]
    permissions = []
    for p in document.permissions:
        item: dict[str, Any] = {"key": p.key, "name": p.name}
        _put(item, "description", p.description)
        permissions.append(item)
    data["permissions"] = permissions
    roles = []
    for r in document.roles:
        item = {"key": r.key, "name": r.name}
        _put(item, "description", r.description)
        _put(item, "is_default_role", r.is_default_role, False)
        _put(item, "permissions", list(r.permissions))
        roles.append(item)
    data["roles"] = roles
    feature_flags = []
    for f in document.feature_flags:
        item = {"key": f.key, "name": f.name}
        _put(item, "description", f.description)
        item["type"] = f.type
        item["default"] = _typed(f.default, f.type)
        _put(item, "allow_override_level", f.allow_override_level, "env")
        if f.environment_value is not None:
            item["environment_value"] = _typed(f.environment_value, f.type)
        feature_flags.append(item)
    data["feature_flags"] = feature_flags
    properties = []
    for prop in document.properties:
        item = {"key": prop.key, "name": prop.name}
        _put(item, "description", prop.description)
        item["context"] = prop.context
        _put(item, "type", prop.type, "single_line_text")
        item["category"] = prop.category
        _put(item, "is_private", prop.is_private, False)
        properties.append(item)
    data["properties"] = properties
    users = []
    for u in document.users:
        item = {"id": u.id}
        _put(item, "first_name", u.first_name)
        _put(item, "last_name", u.last_name)
        _put(item, "picture", u.picture)
        _put(item, "provided_id", u.provided_id)
        _put(item, "is_suspended", u.is_suspended, False)
        _put(item, "identities", [{i.type: i.value} for i in u.identities])
        _put(item, "properties", dict(u.properties))
        users.append(item)
    data["users"] = users
    organizations = []
    for o in document.organizations:
        item = {"code": o.code, "name": o.name}
        _put(item, "handle", o.handle)
        _put(item, "external_id", o.external_id)
        members = []
        for m in o.members:
            member: dict[str, Any] = {"user": m.user}
            _put(member, "roles", list(m.roles))
            _put(member, "permissions", list(m.permissions))
            members.append(member)
        _put(item, "members", members)
        _put(
            item,
            "feature_flags",
            {
                key: _typed(value, flags[key].type if key in flags else None)
                for key, value in o.feature_flags
            },
        )
        _put(item, "properties", dict(o.properties))
        organizations.append(item)
    data["organizations"] = organizations
    applications = []
    for a in document.applications:
        item = {"client_id": a.client_id, "name": a.name, "type": a.type}
        _put(item, "org_code", a.org_code)
        _put(item, "client_secret_hash", a.client_secret_hash)
        _put(item, "access_token_lifetime", a.access_token_lifetime, 86_400)
        grants = []
        for g in a.authorize:
            grant: dict[str, Any] = {"api": g.api}
            if g.scopes is not None:
                grant["scopes"] = list(g.scopes)
            grants.append(grant)
        _put(item, "authorize", grants)
        _put(item, "properties", dict(a.properties))
        applications.append(item)
    data["applications"] = applications
    webhooks = []
    for w in document.webhooks:
        item = {"name": w.name, "endpoint": w.endpoint, "event_types": list(w.event_types)}
        _put(item, "description", w.description)
        webhooks.append(item)
    data["webhooks"] = webhooks
    return data


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key (``scopes:`` then ``  - read:orders``)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_yaml(data: dict[str, Any]) -> str:
    """The file's text: block style, keys in the format's order, Unicode kept."""
    body: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return HEADER + body


def export_data(ctx: Context) -> dict[str, Any]:
    """The environment of ``ctx`` as the file's mapping, read in one snapshot."""
    with ctx.storage.read() as uow:
        document = read_document(uow, ctx.hasher, ctx.clock.now())
    return document_data(document)
