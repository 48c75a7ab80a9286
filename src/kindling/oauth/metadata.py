"""Discovery documents: RFC 8414 metadata and OpenID Connect discovery.

``issuer`` is byte-identical to the ``iss`` of every token we sign (RFC 8414 §3.3).
Only what the server really supports is advertised: the token endpoint, and the
introspection (RFC 7662) and revocation (RFC 7009) endpoints with the client
authentication each accepts (RFC 8414 §2; ``Bearer``, a registered access-token type,
for introspection with a Management API token).
"""

from typing import Any

TOKEN_PATH = "/oauth2/token"
INTROSPECTION_PATH = "/oauth2/introspect"
REVOCATION_PATH = "/oauth2/revoke"
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def authorization_server_metadata(issuer: str, scopes: list[str]) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}{TOKEN_PATH}",
        "jwks_uri": f"{issuer}/.well-known/jwks",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "introspection_endpoint": f"{issuer}{INTROSPECTION_PATH}",
        "introspection_endpoint_auth_methods_supported": [*CLIENT_AUTH_METHODS, "Bearer"],
        "revocation_endpoint": f"{issuer}{REVOCATION_PATH}",
        "revocation_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
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
