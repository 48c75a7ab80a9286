"""Token revocation, ``POST /oauth2/revoke`` (RFC 7009), sans-I/O.

The client authenticates exactly as at the token endpoint (``oauth.client_auth``);
failing that is 401 ``invalid_client`` like there, never a silent 200 (a bad secret
must not look like a successful revoke). Then, for the ``token`` parameter:

* anything that is not a live access token of ours (malformed, foreign, another
  ``typ``, expired beyond the Management API's 60 s leeway, already revoked) is
  answered 200 with nothing done (§2.2: an invalid token is no error; there is
  nothing to revoke);
* a live token issued to *another* application is refused with 400
  ``unauthorized_client`` and not revoked (§2.1: the server verifies the token was
  issued to the client making the request, and refuses it otherwise, with an error
  of §2.2.1; the error the IETF list settled on). Only its holder could have sent it,
  and it tells them nothing the Management API would not;
* a live token of the client is revoked: its ``jti`` is stored until the token
  expires, and every worker's Management API refuses it from its next request on
  (``platform.signing``). Answer 200, no body (§2.2).

``token_type_hint`` is accepted and ignored (§2.1: the server extends its search
anyway; we issue access tokens only), so ``unsupported_token_type`` never arises.
A JWT is self-contained: other resource servers that verify it against our JWKS
only learn of the revocation through introspection (RFC 7662).
"""

from __future__ import annotations

from collections.abc import Callable

from kindling.oauth.bearer import LEEWAY
from kindling.oauth.client_auth import authenticate_client
from kindling.oauth.errors import OAuthError, UnauthorizedClientError
from kindling.oauth.introspection import TokenKeys, live_claims, required_token
from kindling.oauth.ports import ClientStore, SecretVerifier
from kindling.oauth.requests import parse_token_request
from kindling.oauth.server import NO_STORE, TokenResponse, error_response

#: Records a revoked token: (jti, client_id, exp) -> False if it already was.
RevokeToken = Callable[[str, str, int], bool]


class RevocationEndpoint:
    """Answers ``POST /oauth2/revoke``; storage, keys and the revocation store are injected."""

    def __init__(
        self,
        store: ClientStore,
        verifier: SecretVerifier,
        keys: Callable[[], TokenKeys],
        issuer: Callable[[], str],
        revoke: RevokeToken,
        realm: str = "kindling",
    ) -> None:
        self._store = store
        self._verifier = verifier
        self._keys = keys
        self._issuer = issuer
        self._revoke = revoke
        self._realm = realm

    def handle(
        self, body: bytes, content_type: str | None, authorization: str | None, now: float
    ) -> TokenResponse:
        """Authenticate the client and revoke its token; never raises an OAuthError."""
        try:
            request = parse_token_request(body, content_type, authorization, self._realm)
            record = authenticate_client(request, self._store, self._verifier, (), now)
            token = required_token(request)
            claims = live_claims(token, self._keys(), self._issuer(), now, None, leeway=LEEWAY)
            if claims is None:
                return TokenResponse(200, b"", NO_STORE)
            if claims["azp"] != record.application.client_id:
                raise UnauthorizedClientError("the token was not issued to this client")
            self._revoke(claims["jti"], claims["azp"], int(claims["exp"]))
            return TokenResponse(200, b"", NO_STORE)
        except OAuthError as error:
            return error_response(error)
