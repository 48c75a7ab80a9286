"""Client authentication at the token endpoint (RFC 6749 §2.3.1).

Two methods: ``client_secret_basic`` and ``client_secret_post``. A client must
use exactly one (§2.3). Failures are ``invalid_client`` with 401; when the
client tried the ``Authorization`` header the answer carries a matching
``WWW-Authenticate`` challenge.
"""

from collections.abc import Sequence

from kindling.oauth.errors import InvalidClientError, InvalidRequestError
from kindling.oauth.ports import ClientRecord, ClientStore, SecretVerifier
from kindling.oauth.requests import TokenRequest

_DUMMY_HASH = "hmac-sha256$v1$" + "0" * 64


def authenticate_client(
    request: TokenRequest,
    store: ClientStore,
    verifier: SecretVerifier,
    audiences: Sequence[str],
    now: float,
) -> ClientRecord:
    """Return the authenticated client or raise; also loads its authorizations."""
    body_id, body_secret = request.get("client_id"), request.get("client_secret")
    headers: dict[str, str] = {}
    if request.basic is not None:
        if body_secret is not None:
            raise InvalidRequestError("the client used more than one authentication method")
        if body_id is not None and body_id != request.basic.client_id:
            raise InvalidRequestError("client_id in the body differs from the Basic credentials")
        client_id, secret = request.basic.client_id, request.basic.client_secret
        headers = {"WWW-Authenticate": f'Basic realm="{request.basic_realm}", charset="UTF-8"'}
    else:
        if body_id is None or body_secret is None:
            raise InvalidClientError("client authentication is required")
        client_id, secret = body_id, body_secret
    record = store.load_client(client_id, audiences) if client_id else None
    if record is None:
        verifier.verify(secret, _DUMMY_HASH)  # spend the same time as for a known client
        raise InvalidClientError("client authentication failed", headers=headers)
    ok = False
    for stored in record.secrets:
        if stored.expires_at is not None and stored.expires_at <= now:
            continue
        ok = verifier.verify(secret, stored.secret_hash) or ok
    if not ok:
        raise InvalidClientError("client authentication failed", headers=headers)
    return record
