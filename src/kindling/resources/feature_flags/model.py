"""Feature flags: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureFlag:
    """A feature flag definition; values are strings that parse as ``type``.

    ``environment_value`` is the environment override (None: the default applies).
    ``allow_override_level`` is the lowest level that may override: ``env``, ``org``
    (environment and organizations) or ``usr`` (environment, organizations and users).
    """

    id: str
    key: str
    name: str
    type: str
    default_value: str
    allow_override_level: str
    created_on: str
    description: str | None = None
    environment_value: str | None = None
