"""``kindling serve --tls``: the local CA, the server certificate, and the files at rest."""

from __future__ import annotations

import base64
import ipaddress
import json
import socket
import ssl
import stat
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.support import KindlingServer

PRIVATE_KEYS = ("ca-key.pem", "server-key.pem")


def _handshake(server: KindlingServer, server_hostname: str, cafile: str | None) -> bytes:
    """TLS-connect to the server's port, verifying against ``cafile``; return the peer cert."""
    context = ssl.create_default_context(cafile=cafile)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der
    return der


def _tls_dir(server: KindlingServer) -> Path:
    return server.data_dir / "tls"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_certificate_verifies_against_the_local_ca(
    tls_server: KindlingServer, hostname: str
) -> None:
    assert tls_server.ca_path
    der = _handshake(tls_server, hostname, tls_server.ca_path)
    cert = x509.load_der_x509_certificate(der)
    ca = x509.load_pem_x509_certificate(Path(tls_server.ca_path).read_bytes())
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_https_client_with_the_ca_reaches_the_server(
    tls_server: KindlingServer, hostname: str
) -> None:
    assert tls_server.ca_path
    context = ssl.create_default_context(cafile=tls_server.ca_path)
    with httpx.Client(verify=context, timeout=10) as http:
        response = http.get(f"https://{hostname}:{tls_server.port}/.well-known/jwks")
    assert response.status_code == 200
    assert response.json()["keys"]


def test_certificate_is_refused_without_the_ca(tls_server: KindlingServer) -> None:
    context = ssl.create_default_context()  # system trust only
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as raw:
            context.wrap_socket(raw, server_hostname="localhost").close()


def test_certificate_is_refused_for_a_foreign_name(tls_server: KindlingServer) -> None:
    assert tls_server.ca_path
    with pytest.raises(ssl.SSLCertVerificationError, match="(?i)hostname|mismatch"):
        _handshake(tls_server, "kindling.example.com", tls_server.ca_path)


def test_certificate_shape(tls_server: KindlingServer) -> None:
    tls_dir = _tls_dir(tls_server)
    cert = x509.load_pem_x509_certificate((tls_dir / "server.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())

    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    ips = san.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("127.0.0.1") in ips
    assert ipaddress.ip_address("::1") in ips
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False

    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.issuer == ca.subject
    # The certificate the server presents is the one on disk.
    presented = _handshake(tls_server, "localhost", tls_server.ca_path)
    assert presented == cert.public_bytes(serialization.Encoding.DER)


def test_issuer_and_endpoints_use_https(tls_server: KindlingServer) -> None:
    expected = f"https://localhost:{tls_server.port}"
    with tls_server.client() as http:
        discovery = http.get("/.well-known/openid-configuration")
    assert discovery.status_code == 200, discovery.text
    doc = discovery.json()
    assert doc["issuer"] == expected
    assert doc["token_endpoint"] == f"{expected}/oauth2/token"
    assert doc["jwks_uri"].startswith(f"{expected}/.well-known/jwks")

    token = tls_server.token()
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == expected
    assert f"{expected}/api" in claims["aud"]
    assert f"Kindling is serving {expected}" in tls_server.output


@pytest.mark.parametrize("name", PRIVATE_KEYS)
def test_private_keys_are_0600_and_encrypted(tls_server: KindlingServer, name: str) -> None:
    path = _tls_dir(tls_server) / name
    assert path.is_file()
    assert _mode(path) == 0o600, oct(_mode(path))
    pem = path.read_bytes()
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem
    assert b"ENCRYPTED" in pem
    with pytest.raises(TypeError):  # a password is required to load it
        serialization.load_pem_private_key(pem, password=None)


def test_no_unencrypted_private_key_anywhere_in_the_data_dir(tls_server: KindlingServer) -> None:
    found = []
    for path in tls_server.data_dir.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"PRIVATE KEY-----" in data:
            found.append(path.name)
            assert b"BEGIN ENCRYPTED PRIVATE KEY" in data, path
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
    assert sorted(found) == sorted(PRIVATE_KEYS)


def test_ca_certificate_is_public(tls_server: KindlingServer) -> None:
    ca = _tls_dir(tls_server) / "ca.pem"
    pem = ca.read_bytes()
    assert b"PRIVATE KEY" not in pem
    assert pem.count(b"-----BEGIN CERTIFICATE-----") == 1
    assert str(ca.resolve()) == tls_server.ca_path


def test_master_key_is_0600(tls_server: KindlingServer) -> None:
    path = tls_server.data_dir / "master.key"
    assert path.is_file()
    assert _mode(path) == 0o600, oct(_mode(path))
    assert len(path.read_text(encoding="ascii").strip()) >= 32
