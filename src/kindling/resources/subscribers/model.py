"""Subscribers: the domain objects.

Plain frozen dataclasses: no I/O, no framework types. Timestamps are ISO 8601 strings in
UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subscriber:
    """Someone subscribed to the business's mailing list; one per email address
    (compared case-insensitively)."""

    id: str
    email: str
    first_name: str
    created_on: str
    last_name: str | None = None

    @property
    def full_name(self) -> str:
        """First and last name, as Kinde's ``full_name`` (and its ``name_*`` sorts) use."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)
