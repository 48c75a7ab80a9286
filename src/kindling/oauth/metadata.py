"""Discovery documents: RFC 8414 metadata and OpenID Connect discovery.

``issuer`` is byte-identical to the ``iss`` of every token we sign (RFC 8414 §3.3).
Only what the server really supports is advertised.
"""

from typing import Any


def authorization_server_metadata(issuer: str, scopes: list[str]) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth2/token",
        "jwks_uri": f"{issuer}/.well-known/jwks",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes,
        "claims_supported": ["aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v"],
    }


def openid_configuration(issuer: str, scopes: list[str]) -> dict[str, Any]:
    document = authorization_server_metadata(issuer, scopes)
    document.update(
        {
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
        }
    )
    return document
