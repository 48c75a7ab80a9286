"""Rate limits in the ``limits`` library's notation, read without importing ``limits``.

``KINDLING_RATE_LIMIT_*`` take what ``limits.parse_many`` takes (its documented "rate
limit string notation"): ``[count] [per|/] [n (optional)] [second|minute|hour|day|month|
year]``, singular or plural, any case, with ``,``, ``;`` or ``|`` between several
(``50/second;1000/minute``, ``10 per 2 hours``). ``parse_rates`` accepts and refuses
exactly the same strings and gives the same amounts and windows (a month is 30 days, a
year 360, as there); ``tests/unit/test_rates.py`` compares the two on many strings.

**Why not the library's parser.** ``import limits`` imports every storage it has
(Redis, Memcached, MongoDB, with ``deprecated``, ``wrapt`` and ``packaging``): 55-63 ms
of CPU, 140 modules and +7.0 MiB of resident memory in a process that has already
imported Kindling's pipeline (measured 2026-12-01 on the 2-core host, limits 5.8.0),
and 0.2-0.26 s of a loaded host's start-up (``python -X importtime -m kindling serve``;
``bench/README.md``, "lean start-up"). Without ``KINDLING_REDIS_URL`` nothing else of
the library is used: the in-process counters are ``ratelimit.MonotonicWindows``. With
it, ``limits`` is imported then, and each ``Rate`` becomes the library's item
(``limits_item``) for its Redis moving window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from limits import RateLimitItem

#: Seconds per unit, as ``limits`` counts them.
SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 60 * 60,
    "day": 60 * 60 * 24,
    "month": 60 * 60 * 24 * 30,
    "year": 60 * 60 * 24 * 30 * 12,
}

# One limit: an amount, "/" or "per", an optional multiple, a unit; blanks anywhere
# between. ``[a-z]`` with IGNORECASE, as in ``limits``: the word is checked against the
# units afterwards, so a letter that only matches case-insensitively is refused there.
_ONE = r"\s*([0-9]+)\s*(?:/|per)\s*([0-9]+)?\s*([a-z]+)\s*"
_SINGLE = re.compile(_ONE, re.IGNORECASE)
# Several: ``limits`` also takes a ":" right before a separator (and ignores it).
_MANY = re.compile(f"{_ONE}(?::?[,;|]{_ONE})*", re.IGNORECASE)
_SEPARATOR = re.compile(r"[,;|]")


@dataclass(frozen=True, slots=True)
class Rate:
    """``amount`` requests per ``multiples`` × ``unit``: what ``limits`` calls an item."""

    amount: int
    multiples: int
    unit: str

    def get_expiry(self) -> int:
        """The window, in seconds (the name of ``limits``' method)."""
        return SECONDS[self.unit] * self.multiples

    def __str__(self) -> str:
        # ``limits``' own rendering of an item ("50 per 1 second"), as logged before.
        return f"{self.amount} per {self.multiples} {self.unit}"


def _unit(word: str) -> str:
    lowered = word.lower()
    name = lowered[:-1] if lowered.endswith("s") else lowered
    if name not in SECONDS:
        raise ValueError(f"no such unit of time: {word!r}")
    return name


def parse_rates(text: str) -> tuple[Rate, ...]:
    """The limits ``text`` writes, in order; ``ValueError`` if it is not in the notation."""
    if _MANY.fullmatch(text) is None:
        raise ValueError(f"not a rate limit: {text!r}")
    rates = []
    for part in _SEPARATOR.split(text):
        found = _SINGLE.match(part)
        if found is None:  # the whole text matched, so every part does
            raise ValueError(f"not a rate limit: {text!r}")
        amount, multiples, word = found.groups()
        rates.append(Rate(int(amount), int(multiples or 1) or 1, _unit(word)))
    return tuple(rates)


@cache
def limits_item(rate: Rate) -> RateLimitItem:
    """``rate`` as the ``limits`` library's item (imports the library: Redis only)."""
    import limits

    classes = {
        "second": limits.RateLimitItemPerSecond,
        "minute": limits.RateLimitItemPerMinute,
        "hour": limits.RateLimitItemPerHour,
        "day": limits.RateLimitItemPerDay,
        "month": limits.RateLimitItemPerMonth,
        "year": limits.RateLimitItemPerYear,
    }
    return classes[rate.unit](rate.amount, rate.multiples)
