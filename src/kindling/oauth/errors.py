"""OAuth error classes, one per wire ``error`` code (RFC 6749 §5.2, RFC 6750 §3.1)."""


class OAuthError(Exception):
    """An error answered to the client as ``{"error", "error_description"}``."""

    error = "invalid_request"
    status_code = 400

    def __init__(self, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        # RFC 6749 §5.2: error_description is restricted to %x20-21 / %x23-5B / %x5D-7E.
        self.description = "".join(
            ch for ch in description if 0x20 <= ord(ch) <= 0x7E and ch not in '"\\'
        )
        self.headers = headers or {}


class InvalidRequestError(OAuthError):
    """Missing, repeated or malformed parameter, or more than one auth method (§5.2)."""

    error = "invalid_request"


class InvalidClientError(OAuthError):
    """Client authentication failed (§5.2); always 401 here."""

    error = "invalid_client"
    status_code = 401


class UnauthorizedClientError(OAuthError):
    """The client may not use this grant, or is not authorized for the audience."""

    error = "unauthorized_client"


class UnsupportedGrantTypeError(OAuthError):
    """The grant type is not ``client_credentials`` (§5.2)."""

    error = "unsupported_grant_type"


class InvalidScopeError(OAuthError):
    """A requested scope is malformed or was not granted to the client (§5.2)."""

    error = "invalid_scope"


class ServerError(OAuthError):
    """The server could not issue a token; nothing partial is ever returned."""

    error = "server_error"
    status_code = 500
