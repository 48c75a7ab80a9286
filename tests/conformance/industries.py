"""Conformance builders of the ``industries`` resource."""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder


def _has_the_spec_example(body: Any) -> None:
    keys = [industry["key"] for industry in body["industries"]]
    assert "administration_office_support" in keys and len(keys) == len(set(keys)), keys


@builder("getIndustries")
def _get_industries(w: World) -> Req:
    return Req("/industries", check=_has_the_spec_example)
