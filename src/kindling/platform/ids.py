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


def property_id() -> str:
    return "prop_" + hex_id()


def property_category_id() -> str:
    return "cat_" + hex_id()


def feature_flag_id() -> str:
    return "flag_" + hex_id()


def invite_code() -> str:
    """An invitation code (``inv_<32 hex>``); it is also the secret in the invite link."""
    return "inv_" + hex_id()


def uuid_like() -> str:
    """A time-ordered UUID-shaped id as Kinde shows for roles and permissions
    (``01929904-316d-bb2c-069f-99dfea4ac394``): 48 bits of Unix milliseconds, 80 random bits."""
    import time

    raw = f"{int(time.time() * 1000) & 0xFFFFFFFFFFFF:012x}{secrets.token_hex(10)}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def role_id() -> str:
    return uuid_like()


def permission_id() -> str:
    return uuid_like()


def organization_code() -> str:
    """An organization code: ``org_<11 hex>``."""
    return "org_" + hex_id(6)[:11]


def connection_id() -> str:
    return "conn_" + hex_id()


def event_id() -> str:
    """Kinde's event ids: ``event_`` and 32 hex characters."""
    return "event_" + hex_id()
