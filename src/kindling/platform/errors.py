"""Domain errors raised by services and storage, rendered once by each boundary.

The Management API renders them as Kinde's ``error_response``
(``{"errors": [{"code": ..., "message": ...}]}``); the CLI prints the message.
"""

from kindling.platform.codes import Code, DerivedCode


class KindlingError(Exception):
    """Base class of every domain error; ``code`` is the Kinde-style error code."""

    code = "UNKNOWN_ERROR"
    status_code = 400

    def __init__(self, message: str, code: Code | DerivedCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ValidationError(KindlingError):
    """Input failed validation; nothing was written."""

    code = "INVALID_REQUEST"
    status_code = 400


class NotFound(KindlingError):
    """The addressed resource does not exist."""

    code = "NOT_FOUND"
    status_code = 404


class AlreadyExists(KindlingError):
    """A uniqueness rule would be broken (same email, same audience, same key)."""

    code = "ALREADY_EXISTS"
    status_code = 409


class Conflict(KindlingError):
    """The request conflicts with the current state of a resource."""

    code = "CONFLICT"
    status_code = 409


class ConfigurationError(KindlingError):
    """Settings or on-disk state make it unsafe to start (bad master key, corrupt key)."""

    code = "CONFIGURATION_ERROR"
    status_code = 500
