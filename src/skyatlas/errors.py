"""Typed errors raised by services; each API dialect renders them in its own error body.

Services never build HTTP responses: they raise one of these, and the dialect decides the shape.
"""

from __future__ import annotations


class SkyatlasError(Exception):
    """Base class: an error a user should see, with a stable code and an HTTP status."""

    status: int = 500
    code: str = "ERROR_INTERNAL"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidParameter(SkyatlasError):
    status = 400
    code = "ERROR_INVALID_PARAMETER"


class AuthenticationFailed(SkyatlasError):
    status = 401
    code = "ERROR_AUTHENTICATE_FAILURE"


class PermissionDenied(SkyatlasError):
    status = 403
    code = "ERROR_PERMISSION_DENIED"


class NotFound(SkyatlasError):
    status = 404
    code = "ERROR_NOT_FOUND"


class Conflict(SkyatlasError):
    status = 409
    code = "ERROR_CONFLICT"


class PayloadTooLarge(SkyatlasError):
    status = 413
    code = "ERROR_REQUEST_TOO_LARGE"


class Unavailable(SkyatlasError):
    """Something the request needs is busy or not running; retrying later can succeed."""

    status = 503
    code = "ERROR_UNAVAILABLE"


def not_found(kind: str, key: str, value: str) -> NotFound:
    """The one message for a missing and for an invisible record, so neither leaks the other."""
    return NotFound(f"{kind} not found ({key}={value})")
