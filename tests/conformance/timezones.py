"""Conformance builders of the ``timezones`` resource."""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder


def _has_london(body: Any) -> None:
    keys = {zone["key"] for zone in body["timezones"]}
    assert "europe_london" in keys and "utc" in keys, sorted(keys)[:5]


@builder("getTimezones")
def _get_timezones(w: World) -> Req:
    return Req("/timezones", check=_has_london)
