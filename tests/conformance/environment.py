"""Conformance builders of the ``environment`` resource: the environment, its logos and
its passkey policy."""

from __future__ import annotations

from tests.conformance.framework import Req, World, builder, logo_files


@builder("getEnvironment")
def _get_environment(w: World) -> Req:
    return Req("/environment")


@builder("ReadLogo")
def _read_logo(w: World) -> Req:
    return Req("/environment/logos")


@builder("AddLogo")
def _add_logo(w: World) -> Req:
    return Req("/environment/logos/light", files=logo_files())


@builder("DeleteLogo")
def _delete_logo(w: World) -> Req:
    w.ok("AddLogo", Req("/environment/logos/dark", files=logo_files()), "upload a logo")
    return Req("/environment/logos/dark")


@builder("GetPasskey")
def _get_passkey(w: World) -> Req:
    return Req("/passkey")


@builder("UpdatePasskey")
def _update_passkey(w: World) -> Req:
    return Req("/passkey", json={"policy": "optional"})
