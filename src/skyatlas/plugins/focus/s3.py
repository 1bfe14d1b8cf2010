"""FOCUS exports in S3 (`s3://bucket/prefix`): listed, then downloaded one at a time.

Providers deliver FOCUS exports to a bucket (AWS Data Exports, or a copy of another cloud's),
so the plugin reads them there. Objects are downloaded to a temporary directory and read like
local files rather than streamed through DuckDB's `httpfs` extension: that extension is not
bundled (it would be fetched from the internet at run time) and a local copy lets DuckDB read a
file in parallel. The listing pages through the paginator, whatever the page size.

Credentials come only from the data source's secret (`aws_access_key_id`,
`aws_secret_access_key`, optional `aws_session_token`, `region_name`), never from the server's
environment: whoever may create a data source must not borrow the server's own AWS identity.
Every error message is redacted of those values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from skyatlas.plugins.aws.errors import AWS_ERRORS, UNREACHABLE, Redactor, error_code
from skyatlas.plugins.base import PluginError
from skyatlas.plugins.focus.files import format_of_name

DEFAULT_REGION = "us-east-1"
#: A dead endpoint or bad keys fail the sync in seconds, not after many backed-off attempts.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=60,
    user_agent_extra="skyatlas-focus",
)
#: Objects per listing page; None lets S3 decide (1,000). Tests lower it to exercise paging.
PAGE_SIZE: int | None = None
_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId"})


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int

    def url(self, bucket: str) -> str:
        return f"s3://{bucket}/{self.key}"


def split_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` → (`bucket`, `some/prefix`)."""
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


class S3Source:
    """One bucket and prefix, with a client built from the secret."""

    def __init__(
        self,
        url: str,
        secret: Mapping[str, Any],
        *,
        endpoint_url: str | None,
        region_name: str | None,
    ) -> None:
        self.url = url
        self.bucket, self.prefix = split_url(url)
        keys = {k: _text(secret, k) for k in _SECRET_KEYS}
        missing = [k for k in ("aws_access_key_id", "aws_secret_access_key") if not keys[k]]
        if missing:
            raise PluginError(
                f"reading {url} needs a secret with {' and '.join(missing)}",
                code="ERROR_INVALID_PARAMETER",
            )
        self._redact = Redactor(
            [keys["aws_access_key_id"], keys["aws_secret_access_key"], keys["aws_session_token"]]
        )
        self.endpoint_url = endpoint_url
        session = boto3.session.Session(
            aws_access_key_id=keys["aws_access_key_id"],
            aws_secret_access_key=keys["aws_secret_access_key"],
            aws_session_token=keys["aws_session_token"],
            region_name=region_name or keys["region_name"] or DEFAULT_REGION,
        )
        self._client = session.client("s3", endpoint_url=endpoint_url, config=_CONFIG)

    def list(self) -> list[S3Object]:
        """The data objects under the prefix (by name ending), sorted by key."""
        found: list[S3Object] = []
        try:
            paging = {"PageSize": PAGE_SIZE} if PAGE_SIZE else {}
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, PaginationConfig=paging
            )
            for page in pages:
                for item in page.get("Contents") or ():
                    key = item["Key"]
                    if not key.endswith("/") and format_of_name(key):
                        found.append(S3Object(key=key, size=int(item.get("Size") or 0)))
        except AWS_ERRORS as exc:
            raise self._error(f"cannot list {self.url}", exc) from None
        if not found:
            raise PluginError(
                f"no FOCUS files found at {self.url} (looked for *.csv, *.csv.gz and *.parquet)"
            )
        return sorted(found, key=lambda o: o.key)

    def download(self, obj: S3Object, dest: Path) -> None:
        try:
            self._client.download_file(self.bucket, obj.key, str(dest))
        except AWS_ERRORS as exc:
            raise self._error(f"cannot download {obj.url(self.bucket)}", exc) from None
        except OSError as exc:  # the local side: disk full, temporary directory gone
            raise PluginError(
                f"cannot download {obj.url(self.bucket)}: {exc.strerror or exc}"
            ) from None

    def _error(self, what: str, exc: BaseException) -> PluginError:
        code = error_code(exc)
        if isinstance(exc, UNREACHABLE):
            where = self.endpoint_url or "S3"
            return PluginError(self._redact(f"{what}: {where} is unreachable ({code})"))
        if code == "NoSuchBucket":
            return PluginError(f"{what}: the bucket {self.bucket} does not exist")
        detail = self._redact.describe(exc)
        if code in _DENIED or code in ("SignatureDoesNotMatch", "ExpiredToken", "403"):
            return PluginError(f"{what}: access denied ({detail})", code="ERROR_PERMISSION_DENIED")
        return PluginError(f"{what}: {detail}")


_SECRET_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region_name")


def _text(secret: Mapping[str, Any], key: str) -> str | None:
    value = secret.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PluginError(f"the secret's {key} must be text", code="ERROR_INVALID_PARAMETER")
    return value.strip() or None
