"""Custom-claims hooks loaded by test servers through ``KINDLING_TOKEN_CLAIMS_HOOK``."""

from collections.abc import Mapping
from typing import Any

from kindling.oauth.ports import ClaimsContext


def tenant_claims(context: ClaimsContext) -> Mapping[str, Any]:
    """Adds claims derived from the application and the request."""
    return {
        "tenant": context.application.name,
        "requested_audiences": list(context.audiences),
        "granted": len(context.scopes),
    }


def failing(context: ClaimsContext) -> Mapping[str, Any]:
    raise RuntimeError("the claims backend is down")


def overrides_issuer(context: ClaimsContext) -> Mapping[str, Any]:
    return {"iss": "https://evil.example", "extra": True}


def not_a_mapping(context: ClaimsContext) -> Any:
    return ["tenant"]
