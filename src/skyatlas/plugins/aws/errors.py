"""Turning botocore failures into what users read: short, stable wording that names the AWS
error code, and never echoes a credential back (messages end up in job records and logs)."""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

#: Errors meaning "these credentials are not valid" (as opposed to "not allowed to do that").
AUTH_ERROR_CODES = frozenset(
    {
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)

#: What botocore raises for AWS's answers and for transport problems.
AWS_ERRORS = (ClientError, BotoCoreError)


#: Transport failures after botocore's own retries: the endpoint is not answering at all.
UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError)


def error_code(exc: BaseException) -> str:
    """The AWS error code (`AccessDenied`), or the botocore exception's name for a transport
    problem (`EndpointConnectionError`, `ReadTimeoutError`)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "UnknownError")
    return type(exc).__name__


def is_auth_error(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in AUTH_ERROR_CODES


class Redactor:
    """Replaces every credential value of the secret by `***` in a text."""

    def __init__(self, values: Iterable[str | None]) -> None:
        # Longest first, so a value containing another is replaced whole.
        self._values = sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "***")
        return text

    def describe(self, exc: BaseException) -> str:
        """`Code: message` of an AWS error (message cut to 300 characters), redacted."""
        code = error_code(exc)
        if isinstance(exc, ClientError):
            message = str(exc.response.get("Error", {}).get("Message") or "").strip()
        else:
            message = str(exc).strip()
        if len(message) > 300:
            message = message[:297] + "..."
        return self(f"{code}: {message}" if message and message != code else code)
