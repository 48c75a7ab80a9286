"""SCIM directories: the domain objects.

Plain frozen dataclasses: no I/O, no framework types. A directory is where an
organization's identity provider provisions users and groups over SCIM 2.0
(RFC 7643, RFC 7644): its endpoint id names the SCIM base address, and the provider
authenticates with a bearer token (RFC 6750) of which only a keyed hash is kept
(``token_hash``, left out of the ``repr``).

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Kinde's SCIM provider codes (``provider_code`` of ``POST /directories``).
PROVIDERS = (
    "entra_id_azure_ad",
    "okta",
    "google_workspace",
    "custom_scim_v2",
    "cyberark",
    "jumpcloud",
    "onelogin",
    "pingfederate",
    "rippling",
)
#: Kinde's directory statuses; a new directory is ``Pending`` until its provider syncs.
STATUSES = ("Pending", "Validating", "Active", "Inactive", "Error")


@dataclass(frozen=True)
class Directory:
    """An organization's SCIM directory (``directory_<32 hex>``)."""

    id: str
    directory_name: str
    provider_code: str
    organization_code: str
    directory_endpoint_id: str
    status: str
    created_on: str
    token_hash: str = field(repr=False)
    enterprise_connection_id: str | None = None
    #: The connection's display name (else its name), read with the directory.
    enterprise_connection_name: str | None = None
    last_sync_started_at: str | None = None
    last_sync_completed_at: str | None = None
    last_sync_error: str | None = None


def directory_from_row(row: Mapping[str, Any]) -> Directory:
    """A directory from a database row (its columns by name, the connection's joined)."""
    return Directory(
        id=row["id"],
        directory_name=row["directory_name"],
        provider_code=row["provider_code"],
        organization_code=row["org_code"],
        directory_endpoint_id=row["endpoint_id"],
        status=row["status"],
        created_on=row["created_on"],
        token_hash=row["token_hash"],
        enterprise_connection_id=row["connection_id"],
        enterprise_connection_name=row["connection_display_name"] or row["connection_name"],
        last_sync_started_at=row["last_sync_started_at"],
        last_sync_completed_at=row["last_sync_completed_at"],
        last_sync_error=row["last_sync_error"],
    )
