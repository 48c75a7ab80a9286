"""``kindling.web.rates`` reads the ``limits`` notation exactly as ``limits.parse_many`` does.

Every string below, hand-picked edge cases and a few thousand generated ones, must be
refused by both or give the same limits (amount, multiples, window, rendering), and each
``Rate`` must turn into the library's equal item for the Redis counters.
"""

from __future__ import annotations

import random

import limits
import pytest

from kindling.web.rates import Rate, limits_item, parse_rates

EDGES = [
    "50/second",
    "50/second;1000/minute",
    "10 per 2 hours",
    "10per2hours",
    "10 PER 2 HOURS",
    "1/0second",
    "1/00 days",
    "007/minute",
    "0/second",
    "5/second, 100/hour | 1000/day",
    "1/second:;2/minute",
    "1/second : ;2/minute",
    "1/second;",
    ";1/second",
    "1/second;;2/minute",
    "  3 / 4 month  ",
    "3/years\n",
    "\t3 /\tyear",
    "1 per persecond",
    "1 persecond",
    "1/secondss",
    "1/s",
    "1/sec",
    "1/fortnight",
    "fifty per second",
    "-1/second",
    "1.5/second",
    "1 second",
    "/second",
    "1/",
    "",
    " ",
    "1/\u017fecond",  # LATIN SMALL LETTER LONG S: [a-z] under IGNORECASE, not a unit
    "1/\u212aday",  # KELVIN SIGN
    "1/m\u0131nute",  # LATIN SMALL LETTER DOTLESS I
    "1/M\u0130NUTE",  # LATIN CAPITAL LETTER I WITH DOT ABOVE
    "\u0661/second",  # ARABIC-INDIC DIGIT ONE
    "1/2\u00a0minutes",  # NO-BREAK SPACE
]

_UNITS = ["second", "minute", "hour", "day", "month", "year"]
_WORDS = [*_UNITS, *(u + "s" for u in _UNITS), "SECOND", "Minutes", "hOuR", "dayss", "week", "s"]
_PIECES = {
    "amount": ["0", "1", "50", "007", "", "x", "-1"],
    "per": ["/", "per", " per ", "PER", "Per", " / ", "", "//", "pe"],
    "multiple": ["", "0", "2", " 3 ", "10", "1.5"],
    "word": _WORDS,
    "joint": [";", ",", "|", " ; ", ":;", ": ;", ";;", " ", ":"],
}


def _one(rng: random.Random) -> str:
    pick = {name: rng.choice(choices) for name, choices in _PIECES.items()}
    pad = rng.choice(["", " ", "  ", "\t"])
    return f"{pad}{pick['amount']}{pick['per']}{pick['multiple']}{pick['word']}{pad}"


def _generated(count: int) -> list[str]:
    rng = random.Random(13)
    texts = []
    for _ in range(count):
        parts = [_one(rng) for _ in range(rng.choice([1, 1, 2, 3]))]
        text = parts[0]
        for part in parts[1:]:
            text += rng.choice(_PIECES["joint"]) + part
        texts.append(text)
    return texts


def _library(text: str) -> list[tuple[int, int, int, str]] | None:
    try:
        items = limits.parse_many(text)
    except ValueError:
        return None
    return [(i.amount, i.multiples, i.get_expiry(), repr(i)) for i in items]


def _ours(text: str) -> list[tuple[int, int, int, str]] | None:
    try:
        rates = parse_rates(text)
    except ValueError:
        return None
    return [(r.amount, r.multiples, r.get_expiry(), str(r)) for r in rates]


@pytest.mark.parametrize("text", EDGES)
def test_edge_cases_read_as_the_library_reads_them(text: str) -> None:
    assert _ours(text) == _library(text)


def test_generated_strings_read_as_the_library_reads_them() -> None:
    texts = _generated(4000)
    accepted = [text for text in texts if _library(text) is not None]
    # Enough of both kinds to mean something.
    assert 400 < len(accepted) < len(texts) - 400
    assert [_ours(text) for text in texts] == [_library(text) for text in texts]


def test_windows_are_the_library_s() -> None:
    assert [r.get_expiry() for r in parse_rates("1/second;1/2minutes;1/hour;1/day")] == [
        1,
        120,
        3600,
        86400,
    ]
    assert parse_rates("1/month|1/year") == (Rate(1, 1, "month"), Rate(1, 1, "year"))
    assert [r.get_expiry() for r in parse_rates("1/month|1/year")] == [2_592_000, 31_104_000]


def test_each_rate_becomes_the_library_s_equal_item() -> None:
    for text in ("5/second", "100 per 2 minutes", "7/hour", "1/3 days", "2/month", "9/year"):
        (rate,) = parse_rates(text)
        (item,) = limits.parse_many(text)
        converted = limits_item(rate)
        assert converted == item and type(converted) is type(item)
        assert converted.key_for("token", "c") == item.key_for("token", "c")
