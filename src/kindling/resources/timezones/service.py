"""The IANA time zones, as Kinde lists them: a stable key and a display name.

The zones are the canonical IANA names the standard library's ``zoneinfo`` knows
(the system database, or the ``tzdata`` package where the system has none),
without the legacy aliases (``US/Eastern``, ``Etc/GMT+5``, ``posixrules``).
Kinde's keys are lower-case words joined by ``_``; ours are the IANA name in that
form (``Europe/London`` → ``europe_london``), so a key never changes when an offset
does. The name shows the zone, its abbreviation and its UTC offset at ``now``
(``Europe/London (BST) [+01:00]``), as Kinde's names show the offset.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

#: The IANA areas of canonical zone names (``Area/Location``), plus ``UTC`` itself.
AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
_NOT_KEY = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Timezone:
    key: str
    name: str
    offset: timedelta


def timezone_key(zone: str) -> str:
    """Kinde's key form of an IANA name: ``America/Argentina/Buenos_Aires`` →
    ``america_argentina_buenos_aires``."""
    return _NOT_KEY.sub("_", zone.lower()).strip("_")


@cache
def zone_names() -> tuple[str, ...]:
    """The canonical IANA zone names, sorted (read once: the database does not change)."""
    names = {
        zone
        for zone in zoneinfo.available_timezones()
        if zone == "UTC" or zone.partition("/")[0] in AREAS
    }
    return tuple(sorted(names))


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def list_timezones(now: float) -> list[Timezone]:
    """Every zone with its offset at ``now`` (Unix seconds), west to east, then by name."""
    instant = datetime.fromtimestamp(now, UTC)
    zones = []
    for zone in zone_names():
        local = instant.astimezone(zoneinfo.ZoneInfo(zone))
        offset = local.utcoffset() or timedelta(0)
        abbreviation = local.tzname() or ""
        label = f"{zone} ({abbreviation}) [{_offset_text(offset)}]"
        zones.append(Timezone(key=timezone_key(zone), name=label, offset=offset))
    zones.sort(key=lambda tz: (tz.offset, tz.name))
    return zones
