"""Time as a dependency, so protocol code and tests can freeze it."""

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current Unix time in seconds."""

    def now(self) -> float: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        return time.time()


class FrozenClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, at: float) -> None:
        self._at = at

    def now(self) -> float:
        return self._at

    def advance(self, seconds: float) -> None:
        self._at += seconds


def isoformat(ts: float) -> str:
    """Render a Unix time as ISO 8601 in UTC with microseconds, as Kinde's API does."""
    return datetime.fromtimestamp(ts, UTC).isoformat()
