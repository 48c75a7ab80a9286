"""Conformance builders of the ``environment_variables`` resource."""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder, has_item, uid


def _variable(w: World, secret: bool = False) -> str:
    body = w.ok(
        "createEnvironmentVariable",
        Req(
            "/environment_variables",
            json={"key": f"CONF_{uid().upper()}", "value": f"v-{uid()}", "is_secret": secret},
        ),
        "create an environment variable",
    )
    return str(body["environment_variable"]["id"])


@builder("getEnvironmentVariables")
def _get_environment_variables(w: World) -> Req:
    variable = _variable(w)
    w.once(("environment_variables", "a secret"), lambda: _variable(w, secret=True))
    return Req("/environment_variables", check=has_item("environment_variables", variable))


@builder("createEnvironmentVariable")
def _create_environment_variable(w: World) -> Req:
    return Req(
        "/environment_variables",
        json={"key": f"CONF_{uid().upper()}", "value": "some value", "is_secret": False},
    )


@builder("getEnvironmentVariable")
def _get_environment_variable(w: World) -> Req:
    variable = _variable(w, secret=True)

    def check(body: Any) -> None:
        shown = body["environment_variable"]
        assert shown["id"] == variable and shown["is_secret"] is True, body
        assert shown.get("value") is None, body

    return Req(f"/environment_variables/{variable}", check=check)


@builder("updateEnvironmentVariable")
def _update_environment_variable(w: World) -> Req:
    return Req(
        f"/environment_variables/{_variable(w)}", json={"value": "changed", "is_secret": True}
    )


@builder("deleteEnvironmentVariable")
def _delete_environment_variable(w: World) -> Req:
    return Req(f"/environment_variables/{_variable(w)}")
