"""The event-type catalogue webhooks subscribe to (``GET /api/v1/event_types``).

Every member of ``kindling.platform.event_types.EventType`` is a type a webhook may
subscribe to; nothing else is. Each is shown in the shape of Kinde's ``event_type``:
``id`` (stable, derived from the code, so every instance and restart agrees), ``code``
(the ``type`` of the event, ``user.created``), ``name`` (readable), ``origin`` (``kinde``
for the types Kinde publishes, ``kindling`` for Kindling's own, named in the same
``<resource>.<past-tense verb>`` shape) and ``schema``, a JSON Schema (2020-12) of the
decoded webhook payload as Kindling sends it (see ``kindling.resources.webhooks.delivery``).
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from kindling.platform.event_types import EventType

#: The webhook event types Kinde publishes (its webhook docs and the ``WebhookEventType``
#: of ``@kinde/webhooks``); the members of ``EventType`` among them are marked "Kinde's".
KINDE_EVENT_TYPES = frozenset(
    {
        "user.created",
        "user.updated",
        "user.deleted",
        "user.authenticated",
        "user.authentication_failed",
        "organization.created",
        "organization.updated",
        "organization.deleted",
        "role.created",
        "role.updated",
        "role.deleted",
        "permission.created",
        "permission.updated",
        "permission.deleted",
        "subscriber.created",
        "access_request.created",
    }
)

_ACRONYMS = {"api": "API", "mfa": "MFA", "sso": "SSO", "scim": "SCIM"}


def known(code: str) -> bool:
    """True when ``code`` is a type Kindling records (and so may be subscribed to)."""
    return code in _CODES


def event_type_id(code: str) -> str:
    """A stable id for an event type: ``evt_type_`` and 16 hex characters of its SHA-256."""
    return "evt_type_" + hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]


def event_type_name(code: str) -> str:
    """``user.created`` → ``User created``; ``api_key.rotated`` → ``API key rotated``."""
    words = code.replace(".", " ").replace("_", " ").split()
    shown = [_ACRONYMS.get(word, word) for word in words]
    first = shown[0]
    return " ".join([first[:1].upper() + first[1:], *shown[1:]])


def payload_schema(code: str) -> dict[str, Any]:
    """The JSON Schema of the decoded JWT Kindling POSTs for an event of this type."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": code,
        "type": "object",
        "required": ["event_id", "type", "timestamp", "event_timestamp", "source", "data"],
        "properties": {
            "event_id": {"type": "string", "pattern": "^event_[0-9a-f]{32}$"},
            "type": {"const": code},
            "timestamp": {"type": "string", "format": "date-time"},
            "event_timestamp": {"type": "string", "format": "date-time"},
            "source": {"enum": ["admin", "api"]},
            "data": {"type": "object"},
            "iss": {"type": "string"},
            "iat": {"type": "integer"},
        },
    }


@cache
def event_types() -> tuple[dict[str, Any], ...]:
    """Every event type in Kinde's ``event_type`` shape, in catalogue order."""
    return tuple(
        {
            "id": event_type_id(member.value),
            "code": member.value,
            "name": event_type_name(member.value),
            "origin": "kinde" if member in KINDE_EVENT_TYPES else "kindling",
            "schema": payload_schema(member.value),
        }
        for member in EventType
    )


_CODES = frozenset(member.value for member in EventType)
