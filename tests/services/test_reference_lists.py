"""Timezones and industries: the reference lists behind ``GET /timezones`` and ``/industries``."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime

from kindling.resources.industries.service import INDUSTRIES
from kindling.resources.timezones.service import list_timezones, timezone_key, zone_names

KEY = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
JANUARY = datetime(2026, 1, 15, 12, tzinfo=UTC).timestamp()
JULY = datetime(2026, 7, 15, 12, tzinfo=UTC).timestamp()


def test_every_canonical_zone_is_listed_once_with_a_key_in_kindes_form() -> None:
    zones = list_timezones(JANUARY)
    keys = [zone.key for zone in zones]
    assert len(zones) == len(zone_names()) > 300
    assert len(set(keys)) == len(keys)
    assert all(KEY.fullmatch(key) for key in keys)
    assert {"utc", "europe_london", "america_argentina_buenos_aires"} <= set(keys)


def test_legacy_aliases_are_left_out() -> None:
    names = set(zone_names())
    assert {"US/Eastern", "Etc/GMT+5", "posixrules", "Factory"}.isdisjoint(names)
    assert {"America/New_York", "Asia/Kolkata", "UTC"} <= names
    assert names <= zoneinfo.available_timezones()


def test_the_name_shows_the_offset_at_the_time_asked_and_the_key_does_not_change() -> None:
    winter = {zone.key: zone.name for zone in list_timezones(JANUARY)}
    summer = {zone.key: zone.name for zone in list_timezones(JULY)}
    assert winter["europe_london"] == "Europe/London (GMT) [+00:00]"
    assert summer["europe_london"] == "Europe/London (BST) [+01:00]"
    assert winter["asia_kolkata"] == "Asia/Kolkata (IST) [+05:30]"
    assert winter.keys() == summer.keys()


def test_zones_run_west_to_east() -> None:
    offsets = [zone.offset for zone in list_timezones(JANUARY)]
    assert offsets == sorted(offsets)
    assert offsets[0].total_seconds() < 0 < offsets[-1].total_seconds()


def test_timezone_key_folds_separators() -> None:
    assert timezone_key("America/Port-au-Prince") == "america_port_au_prince"
    assert timezone_key("Etc/UTC") == "etc_utc"


def test_industries_have_unique_keys_in_kindes_form() -> None:
    keys = [industry.key for industry in INDUSTRIES]
    assert len(set(keys)) == len(keys) >= 30
    assert all(KEY.fullmatch(key) for key in keys)
    assert all(industry.name.strip() == industry.name != "" for industry in INDUSTRIES)
