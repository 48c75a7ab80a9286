"""Conformance builders of the ``feature_flags`` resource: flag definitions and their
overrides for the environment, organizations and users."""

from __future__ import annotations

from typing import Any

from tests.conformance.framework import Req, World, builder, uid


def flag(w: World, level: str) -> str:
    key = f"conf_flag_{uid()}"
    w.ok(
        "CreateFeatureFlag",
        Req(
            "/feature_flags",
            json={
                "name": f"Flag {key}",
                "key": key,
                "type": "bool",
                "default_value": "false",
                "description": "conformance",
                "allow_override_level": level,
            },
        ),
        f"create a feature flag ({level})",
    )
    return key


def org_flag_override(w: World, org: str) -> str:
    key = flag(w, "org")
    w.ok(
        "UpdateOrganizationFeatureFlagOverride",
        Req(f"/organizations/{org}/feature_flags/{key}", params={"value": "true"}),
        "override a feature flag for an org",
    )
    return key


@builder("CreateFeatureFlag")
def _create_feature_flag(w: World) -> Req:
    key = f"conf_flag_{uid()}"
    return Req(
        "/feature_flags",
        json={
            "name": f"Flag {key}",
            "key": key,
            "type": "str",
            "default_value": "blue",
            "description": "d",
            "allow_override_level": "org",
        },
    )


@builder("UpdateFeatureFlag")
def _update_feature_flag(w: World) -> Req:
    key = flag(w, "org")
    return Req(
        f"/feature_flags/{key}",
        params={
            "name": f"Renamed {key}",
            "description": "r",
            "type": "bool",
            "allow_override_level": "org",
            "default_value": "true",
        },
    )


@builder("DeleteFeatureFlag")
def _delete_feature_flag(w: World) -> Req:
    return Req(f"/feature_flags/{flag(w, 'env')}")


@builder("GetEnvironementFeatureFlags")
def _get_env_flags(w: World) -> Req:
    key = flag(w, "env") if w.has("CreateFeatureFlag") else None

    def check(body: Any) -> None:
        if key is not None and not body.get("next_token"):
            assert body["feature_flags"][key] == {"type": "bool", "value": "false"}, body

    return Req("/environment/feature_flags", check=check)


def _env_flag_override(w: World) -> str:
    key = flag(w, "env")
    w.ok(
        "UpdateEnvironementFeatureFlagOverride",
        Req(f"/environment/feature_flags/{key}", json={"value": "true"}),
        "override a feature flag for the environment",
    )
    return key


@builder("DeleteEnvironementFeatureFlagOverrides")
def _delete_env_flag_overrides(w: World) -> Req:
    if w.has("UpdateEnvironementFeatureFlagOverride"):
        _env_flag_override(w)
    return Req("/environment/feature_flags")


@builder("UpdateEnvironementFeatureFlagOverride")
def _update_env_flag_override(w: World) -> Req:
    return Req(f"/environment/feature_flags/{flag(w, 'env')}", json={"value": "true"})


@builder("DeleteEnvironementFeatureFlagOverride")
def _delete_env_flag_override(w: World) -> Req:
    return Req(f"/environment/feature_flags/{_env_flag_override(w)}")


@builder("GetOrganizationFeatureFlags")
def _get_organization_feature_flags(w: World) -> Req:
    org = w.org()
    if w.has("UpdateOrganizationFeatureFlagOverride"):
        key = org_flag_override(w, org)

        def check(body: Any) -> None:
            got = body["feature_flags"].get(key)
            assert got == {"type": "bool", "value": "true"}, (key, got, org)

        return Req(f"/organizations/{org}/feature_flags", check=check)
    return Req(f"/organizations/{org}/feature_flags")


@builder("DeleteOrganizationFeatureFlagOverrides")
def _delete_org_flag_overrides(w: World) -> Req:
    org = w.org()
    if w.has("UpdateOrganizationFeatureFlagOverride"):
        org_flag_override(w, org)
    return Req(f"/organizations/{org}/feature_flags")


@builder("UpdateOrganizationFeatureFlagOverride")
def _update_org_flag_override(w: World) -> Req:
    return Req(f"/organizations/{w.org()}/feature_flags/{flag(w, 'org')}", params={"value": "true"})


@builder("DeleteOrganizationFeatureFlagOverride")
def _delete_org_flag_override(w: World) -> Req:
    org = w.org()
    return Req(f"/organizations/{org}/feature_flags/{org_flag_override(w, org)}")


@builder("UpdateUserFeatureFlagOverride")
def _user_flag_override(w: World) -> Req:
    return Req(f"/users/{w.user()}/feature_flags/{flag(w, 'usr')}", params={"value": "true"})
