"""Who the collector is on AWS: credentials from the service account's secret (optionally
exchanged for a role through STS), the account they belong to, the regions to visit, and one
place that builds clients, so that retries, timeouts and endpoint overrides are the same for
every call and a rejected credential is reported the same way whatever call met it first."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from skyatlas.plugins.aws.errors import AWS_ERRORS, Redactor, error_code, is_auth_error
from skyatlas.plugins.base import PluginError

DEFAULT_REGION = "us-east-1"
ROLE_SESSION_NAME = "skyatlas-collector"
#: Assumed-role credentials are renewed when they have less than this left.
_RENEW_BEFORE_S = 600.0
_USER_AGENT = "skyatlas-aws-collector"

#: Every call after the first: throttling is retried with client-side rate limiting.
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=10,
    read_timeout=60,
    max_pool_connections=16,
    user_agent_extra=_USER_AGENT,
)
#: The first calls (who am I, assume role, which regions): a dead endpoint or bad keys should
#: fail the run in seconds, not after ten backed-off attempts.
FIRST_CALL_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra=_USER_AGENT,
)


@dataclass(frozen=True)
class AwsSecret:
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    role_arn: str | None
    external_id: str | None
    region_name: str

    @classmethod
    def parse(cls, secret: Mapping[str, Any]) -> AwsSecret:
        def text(key: str) -> str | None:
            value = secret.get(key)
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                raise PluginError(f"the secret of this service account has a non-text {key}")
            return value.strip() or None

        missing = [k for k in ("aws_access_key_id", "aws_secret_access_key") if not text(k)]
        if missing:
            raise PluginError(f"the secret of this service account has no {' or '.join(missing)}")
        return cls(
            access_key_id=text("aws_access_key_id") or "",
            secret_access_key=text("aws_secret_access_key") or "",
            session_token=text("aws_session_token"),
            role_arn=text("role_arn"),
            external_id=text("external_id"),
            region_name=text("region_name") or DEFAULT_REGION,
        )

    def redactor(self) -> Redactor:
        return Redactor(
            [self.access_key_id, self.secret_access_key, self.session_token, self.external_id]
        )


class AwsSession:
    """Clients for one run, signed with the secret's keys or with the role they assume."""

    def __init__(self, secret: AwsSecret, *, endpoint_url: str | None, log: logging.Logger) -> None:
        self.secret = secret
        self.endpoint_url = endpoint_url
        self.log = log
        self.redact = secret.redactor()
        self.account_id = ""
        self.partition = "aws"
        self._session: boto3.Session | None = None
        self._expires_at: float | None = None  # epoch seconds, for assumed-role credentials
        self._clients: dict[tuple[str, str], Any] = {}

    # -- first calls --------------------------------------------------------------------------

    def connect(self) -> None:
        """Assume the role (when the secret names one) and learn the account id. Raises
        `PluginError` when AWS rejects the credentials or cannot be reached."""
        self._session = self._base_session()
        if self.secret.role_arn:
            self._assume_role()
        sts = self._new_client("sts", self.secret.region_name, FIRST_CALL_CONFIG)
        try:
            identity = sts.get_caller_identity()
        except AWS_ERRORS as exc:
            raise self._first_call_error(exc, "sts:GetCallerIdentity") from None
        self.account_id = str(identity["Account"])
        arn = str(identity.get("Arn") or "")
        if arn.startswith("arn:"):
            self.partition = arn.split(":", 2)[1] or "aws"

    def enabled_regions(self, *, required: bool = True) -> list[str] | None:
        """Codes of the regions enabled in the account (opt-in regions only once opted in).
        When not `required`, None if they cannot be listed."""
        ec2 = self._new_client("ec2", self.secret.region_name, FIRST_CALL_CONFIG)
        try:
            answer = ec2.describe_regions(AllRegions=False)
        except AWS_ERRORS as exc:
            if not required:
                self.log.info("could not list the enabled regions (%s)", error_code(exc))
                return None
            if is_auth_error(exc):
                raise self._first_call_error(exc, "ec2:DescribeRegions") from None
            raise PluginError(
                "could not list the regions enabled in the account (ec2:DescribeRegions: "
                f"{error_code(exc)}); name them in options.regions to collect without it"
            ) from None
        return sorted(r["RegionName"] for r in answer.get("Regions", []) if r.get("RegionName"))

    def _first_call_error(self, exc: BaseException, call: str) -> PluginError:
        code = error_code(exc)
        if is_auth_error(exc):
            return PluginError(f"AWS rejected the credentials of this service account: {code}")
        if isinstance(exc, ClientError):  # AWS answered, and said no
            return PluginError(f"AWS refused {call} for this service account: {code}")
        return PluginError(f"could not reach AWS ({call}): {self.redact.describe(exc)}")

    def _base_session(self) -> boto3.Session:
        s = self.secret
        return boto3.Session(
            aws_access_key_id=s.access_key_id,
            aws_secret_access_key=s.secret_access_key,
            aws_session_token=s.session_token,
            region_name=s.region_name,
        )

    def _assume_role(self) -> None:
        base = self._base_session()
        sts = base.client(
            "sts",
            region_name=self.secret.region_name,
            endpoint_url=self.endpoint_url,
            config=FIRST_CALL_CONFIG,
        )
        kwargs: dict[str, Any] = {
            "RoleArn": self.secret.role_arn,
            "RoleSessionName": ROLE_SESSION_NAME,
        }
        if self.secret.external_id:
            kwargs["ExternalId"] = self.secret.external_id
        try:
            creds = sts.assume_role(**kwargs)["Credentials"]
        except AWS_ERRORS as exc:
            if is_auth_error(exc) or not isinstance(exc, ClientError):
                raise self._first_call_error(exc, "sts:AssumeRole") from None
            raise PluginError(
                "could not assume the role_arn of this service account (sts:AssumeRole: "
                f"{error_code(exc)}); check the role's trust policy and external_id"
            ) from None
        self._session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.secret.region_name,
        )
        expiration = creds.get("Expiration")
        self._expires_at = expiration.timestamp() if hasattr(expiration, "timestamp") else None
        self._clients.clear()

    # -- clients ------------------------------------------------------------------------------

    def client(self, service: str, region: str) -> Any:
        """A client for the service in the region (cached for the run; rebuilt after the
        assumed role's credentials were renewed)."""
        if self._expires_at is not None and time.time() > self._expires_at - _RENEW_BEFORE_S:
            self.log.info("renewing the assumed role's credentials")
            self._assume_role()
        key = (service, region)
        found = self._clients.get(key)
        if found is None:
            found = self._clients[key] = self._new_client(service, region, CLIENT_CONFIG)
        return found

    def _new_client(self, service: str, region: str, config: Config) -> Any:
        if self._session is None:
            raise RuntimeError("AwsSession.connect() was not called")
        return self._session.client(
            service, region_name=region, endpoint_url=self.endpoint_url, config=config
        )
