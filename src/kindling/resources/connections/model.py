"""Connections: the domain objects.

Plain frozen dataclasses and pure functions: no I/O, no framework types.

A connection (``conn_<32 hex>``) is a way to sign in: a social provider
(``oauth2:google``, ``oauth2:github``, ...) or an enterprise one (Microsoft Entra ID
over OAuth 2.0 or WS-Federation, SAML identity providers). Its ``strategy`` is one of
the values Kinde's ``POST /connections`` accepts and never changes; its ``options``
are the strategy's settings (Kinde's three option shapes: social, Azure AD, SAML),
without the write-only ones (``SECRET_OPTIONS``), which only the repository's sealed
column holds. Applications and organizations enable connections (their own join
tables); an enterprise connection may be managed by one organization
(``organization_code``).

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from kindling.platform.render import compact

#: The ``strategy`` values of Kinde's ``POST /connections``, in the spec's order.
STRATEGIES = (
    "oauth2:apple",
    "oauth2:azure_ad",
    "oauth2:bitbucket",
    "oauth2:discord",
    "oauth2:facebook",
    "oauth2:github",
    "oauth2:gitlab",
    "oauth2:google",
    "oauth2:linkedin",
    "oauth2:microsoft",
    "oauth2:patreon",
    "oauth2:slack",
    "oauth2:stripe",
    "oauth2:twitch",
    "oauth2:twitter",
    "oauth2:xero",
    "saml:custom",
    "saml:cloudflare",
    "saml:okta",
    "saml:microsoft",
    "saml:google",
    "wsfed:azure_ad",
)

#: Which of Kinde's three option shapes a strategy takes.
Family = Literal["social", "azure_ad", "saml"]

#: Options that are write-only: accepted, sealed at rest, never shown by any read or event.
SECRET_OPTIONS = ("client_secret", "saml_signing_private_key")


def strategy_family(strategy: str) -> Family:
    """The option shape of ``strategy``: Entra ID (``oauth2:azure_ad``, ``wsfed:azure_ad``)
    takes the Azure AD options, ``saml:*`` the SAML ones, every other ``oauth2:*`` the
    social ones."""
    if strategy.endswith(":azure_ad"):
        return "azure_ad"
    if strategy.startswith("saml:"):
        return "saml"
    return "social"


def is_enterprise(strategy: str) -> bool:
    """Enterprise connections (Entra ID, SAML) are the ones an organization may manage."""
    return strategy_family(strategy) != "social"


@dataclass(frozen=True)
class Connection:
    """An authentication connection; ``options`` never holds a ``SECRET_OPTIONS`` key."""

    id: str
    name: str
    strategy: str
    created_on: str
    display_name: str | None = None
    #: The organization that manages this (enterprise) connection, if any.
    organization_code: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    updated_on: str | None = None


def normalize_domain(value: str) -> str:
    """A home realm domain as it is matched: trimmed, lower-case, without a leading ``@``
    (Kinde's examples write ``@kinde.com`` in options and ``myapp.com`` in the filter)."""
    return value.strip().lower().lstrip("@")


def home_realm_domains(connection: Connection) -> list[str]:
    """The connection's normalized ``home_realm_domains`` option, without repeats."""
    raw = connection.options.get("home_realm_domains") or ()
    found: dict[str, None] = {}
    for value in raw:
        if isinstance(value, str) and normalize_domain(value):
            found[normalize_domain(value)] = None
    return list(found)


def encode_options(options: Mapping[str, Any]) -> str:
    return msgspec.json.encode(dict(options)).decode("utf-8")


def decode_options(raw: str | bytes | None) -> dict[str, Any]:
    """The ``options`` JSON column; anything but an object (a pre-v0012 row) is none."""
    if not raw:
        return {}
    value = msgspec.json.decode(raw)
    return value if isinstance(value, dict) else {}


def connection_from_row(row: Mapping[str, Any]) -> Connection:
    """A connection from a database row (its columns by name)."""
    return Connection(
        id=row["id"],
        name=row["name"],
        strategy=row["strategy"],
        created_on=row["created_on"],
        display_name=row["display_name"],
        organization_code=row["organization_code"],
        options=decode_options(row["options"]),
        updated_on=row["updated_on"],
    )


def connection_fields(connection: Connection) -> dict[str, Any]:
    """The fields of Kinde's ``connection`` object: ``id, name, display_name, strategy``."""
    return compact(
        {
            "id": connection.id,
            "name": connection.name,
            "display_name": connection.display_name,
            "strategy": connection.strategy,
        }
    )


def connection_item(connection: Connection) -> dict[str, Any]:
    """A connection as listed: the flat fields, and the spec's nested ``connection``
    (``get_connections_response.connections[]`` is the ``connection`` schema, whose
    fields sit under ``connection``; the Python SDK reads them there)."""
    fields = connection_fields(connection)
    return {**fields, "connection": dict(fields)}
