"""JWKS and discovery documents against real servers (REFERENCE.md §3.2, RFC 8414, RFC 7517)."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from tests.support import KindlingServer

JWKS_PATHS = ["/.well-known/jwks", "/.well-known/jwks.json"]
METADATA_PATHS = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def fetch(server: KindlingServer, path: str) -> httpx.Response:
    with server.client() as http:
        response = http.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0].strip() == "application/json"
    return response


def metadata(server: KindlingServer, path: str) -> dict[str, Any]:
    document: dict[str, Any] = fetch(server, path).json()
    return document


def token_claims(server: KindlingServer) -> tuple[dict[str, Any], dict[str, Any]]:
    token = server.token()
    unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return jwt.get_unverified_header(token), unverified


# --- JWKS ---------------------------------------------------------------------


def test_jwks_and_jwks_json_serve_the_same_keys(server: KindlingServer) -> None:
    plain = fetch(server, "/.well-known/jwks").json()
    dotted = fetch(server, "/.well-known/jwks.json").json()
    assert plain == dotted
    assert plain["keys"]


@pytest.mark.parametrize("path", JWKS_PATHS)
def test_jwks_contains_only_public_rsa_signing_keys(server: KindlingServer, path: str) -> None:
    keys = fetch(server, path).json()["keys"]
    assert keys
    for key in keys:
        assert not PRIVATE_MEMBERS & set(key), f"private member published: {key.keys()}"
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert isinstance(key["kid"], str) and key["kid"]
        assert isinstance(key["n"], str) and key["n"]
        assert key["e"] == "AQAB"


@pytest.mark.parametrize("path", JWKS_PATHS)
def test_jwks_keys_load_as_2048_bit_public_keys(server: KindlingServer, path: str) -> None:
    for key in fetch(server, path).json()["keys"]:
        loaded = jwt.PyJWK(key)
        assert loaded.key_type == "RSA"
        assert loaded.key.key_size >= 2048
        assert not hasattr(loaded.key, "private_numbers")


def test_jwks_kids_are_unique(server: KindlingServer) -> None:
    kids = [k["kid"] for k in fetch(server, "/.well-known/jwks").json()["keys"]]
    assert len(kids) == len(set(kids))


def test_token_kid_is_published_in_jwks(server: KindlingServer) -> None:
    header, _ = token_claims(server)
    kids = {k["kid"] for k in fetch(server, "/.well-known/jwks").json()["keys"]}
    assert header["kid"] in kids


# --- metadata documents -----------------------------------------------------------


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_metadata_issuer_is_byte_identical_to_token_iss(server: KindlingServer, path: str) -> None:
    _, claims = token_claims(server)
    issuer = metadata(server, path)["issuer"]
    assert issuer.encode("utf-8") == claims["iss"].encode("utf-8")
    assert issuer == server.issuer


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_metadata_token_endpoint_is_our_token_path(server: KindlingServer, path: str) -> None:
    assert metadata(server, path)["token_endpoint"] == f"{server.issuer}/oauth2/token"


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_metadata_token_endpoint_issues_tokens(server: KindlingServer, path: str) -> None:
    endpoint = metadata(server, path)["token_endpoint"]
    data = {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "audience": server.audience,
    }
    response = httpx.post(endpoint, data=data, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_metadata_jwks_uri_is_fetchable_without_auth_and_serves_the_jwks(
    server: KindlingServer, path: str
) -> None:
    jwks_uri = metadata(server, path)["jwks_uri"]
    assert jwks_uri.startswith(server.issuer + "/")
    response = httpx.get(jwks_uri, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0].strip() == "application/json"
    assert response.json() == fetch(server, "/.well-known/jwks.json").json()


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_metadata_jwks_uri_verifies_issued_tokens(server: KindlingServer, path: str) -> None:
    document = metadata(server, path)
    token = server.token()
    client = jwt.PyJWKClient(document["jwks_uri"], cache_keys=False)
    claims = jwt.decode(
        token,
        client.get_signing_key_from_jwt(token),
        algorithms=["RS256"],
        audience=server.audience,
        issuer=document["issuer"],
    )
    assert claims["azp"] == server.client_id


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_metadata_grant_types_include_client_credentials(server: KindlingServer, path: str) -> None:
    assert "client_credentials" in metadata(server, path)["grant_types_supported"]


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_metadata_lists_both_client_auth_methods(server: KindlingServer, path: str) -> None:
    methods = metadata(server, path)["token_endpoint_auth_methods_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(methods)


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_metadata_does_not_advertise_unsupported_grants(server: KindlingServer, path: str) -> None:
    grants = set(metadata(server, path)["grant_types_supported"])
    assert not grants & {"password", "implicit", "authorization_code", "refresh_token"}
