"""Reading `GetCostAndUsage` page by page, and what its failures tell users.

boto3 has no paginator for this call, so pages are followed by hand through `NextPageToken`
(their size is Cost Explorer's business). Each page costs money and takes time: the cancel flag
is checked before every request, and the first failure ends the sync (after botocore's own
adaptive retries), because a range read in part cannot replace any month.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from skyatlas.plugins.aws.errors import AWS_ERRORS, Redactor, error_code, is_auth_error
from skyatlas.plugins.base import PluginError

CALL = "ce:GetCostAndUsage"
#: What Cost Explorer (and botocore) answer once the request rate is over the account's quota.
THROTTLING_CODES = frozenset(
    {
        "LimitExceededException",
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)
#: "Not allowed to do that", as opposed to "these credentials are not valid".
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def pages(
    client: Any,
    request: Mapping[str, Any],
    cancelled: Callable[[], bool],
    redact: Redactor,
) -> Iterator[dict[str, Any]]:
    """Every page of the answer to `request`, in order; stops early (quietly) once cancelled.
    Raises `PluginError` on any failure, and on a page token seen before (which would loop)."""
    token: str | None = None
    seen: set[str] = set()
    while True:
        if cancelled():
            return
        kwargs = dict(request)
        if token is not None:
            kwargs["NextPageToken"] = token
        try:
            answer = client.get_cost_and_usage(**kwargs)
        except AWS_ERRORS as exc:
            raise call_error(exc, redact) from None
        yield answer
        token = answer.get("NextPageToken") or None
        if token is None:
            return
        if token in seen:
            raise PluginError("AWS Cost Explorer returned the same NextPageToken twice")
        seen.add(token)


def call_error(exc: BaseException, redact: Redactor) -> PluginError:
    """A failed `GetCostAndUsage` as users should read it: what went wrong and what to check,
    the AWS error code, never a credential."""
    code = error_code(exc)
    if is_auth_error(exc):
        return PluginError(f"AWS rejected the credentials of this service account: {code}")
    if not isinstance(exc, ClientError):
        return PluginError(f"could not reach AWS Cost Explorer ({CALL}): {redact.describe(exc)}")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in DENIED_CODES or (status == 403 and code not in THROTTLING_CODES):
        shown = f"HTTP {code}" if code.isdigit() else code  # an error body botocore could not read
        return PluginError(
            f"AWS refused {CALL} for this service account: {shown}; the credentials need the "
            "ce:GetCostAndUsage permission, and Cost Explorer must be enabled for the account"
        )
    if code in THROTTLING_CODES:
        return PluginError(
            f"AWS Cost Explorer kept throttling {CALL} after retries ({code}); "
            "try the sync again later"
        )
    return PluginError(f"AWS Cost Explorer refused {CALL}: {redact.describe(exc)}")
