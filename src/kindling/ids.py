"""Server-generated identifiers in Kinde's shapes.

Kinde uses 32 lowercase hex characters for client ids and API ids, ``kp_<32 hex>``
for users, ``org_<11 hex>`` for organizations, and prefixed hex ids for scopes and
identities. Client ids are plain hex and user ids carry ``kp_``, so the two can
never be confused (RFC 9700 §4.15).
"""

import secrets


def hex_id(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)


def client_id() -> str:
    return hex_id()


def api_id() -> str:
    return hex_id()


def api_scope_id() -> str:
    return "api_scope_" + hex_id(8)


def user_id() -> str:
    return "kp_" + hex_id()


def identity_id() -> str:
    return "identity_" + hex_id()


def key_id() -> str:
    return hex_id()


def secret_id() -> str:
    return "secret_" + hex_id(8)
