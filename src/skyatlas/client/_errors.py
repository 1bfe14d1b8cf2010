"""The exceptions a `Client` raises: one base class, so callers can catch everything at once."""

from __future__ import annotations

__all__ = ["APIError", "ClientError", "ConnectionFailed"]


class ClientError(Exception):
    """Base of every error the client raises."""


class ConnectionFailed(ClientError):
    """The server could not be reached, or did not answer in time (after the retries allowed)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(f"cannot reach {endpoint}: {reason}")
        self.endpoint = endpoint
        self.reason = reason


class APIError(ClientError):
    """The server answered with an error: its HTTP status, error code and message.

    Both dialects' error bodies are understood (`{"detail": {"code", "message"}}` and
    `{"success": false, "error": {"code", "message"}}`); anything else keeps the status and a
    short excerpt of the body, so a proxy's HTML error page still says what happened.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def is_auth(self) -> bool:
        """401 or 403: the token is wrong, or it may not do this."""
        return self.status in (401, 403)
