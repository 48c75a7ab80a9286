"""Domain events: what a committed change tells the rest of the world.

Services record an event on the unit of work when they change something
(``uow.record("user.created", {"user": {"id": ...}})``); the unit of work writes
every recorded event to the ``outbox`` table in the same transaction as the
change. So a change that rolls back leaves no event, and a committed change
always has its event. Event types are Kinde's webhook event names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Kinde's webhook event types as ``<resource>.<past-tense verb>`` (``user.created``).
EVENT_TYPE = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")


@dataclass(frozen=True)
class DomainEvent:
    """One recorded change: Kinde's event ``type`` and its ``data`` object."""

    event_id: str
    type: str
    data: dict[str, Any]
    occurred_on: str

    def __post_init__(self) -> None:
        if not EVENT_TYPE.fullmatch(self.type):
            raise ValueError(f"{self.type!r} is not an event type like user.created")
