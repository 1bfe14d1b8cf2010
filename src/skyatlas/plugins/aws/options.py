"""`plugin_info.options` of the aws collector, checked before anything talks to AWS so that a
typo in a region or a type fails the run with a message instead of collecting the wrong scope."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skyatlas.plugins.aws.types import ALL_TYPES, BY_LABEL, TypeKey
from skyatlas.plugins.base import PluginError

_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: Spelled out so that the options' JSON schema (what `collector get` shows) lists them.
ResourceType = Literal[
    "EC2.Instance",
    "EC2.SecurityGroup",
    "EC2.Volume",
    "VPC.VPC",
    "VPC.Subnet",
    "S3.Bucket",
    "RDS.Instance",
    "Lambda.Function",
    "ELB.LoadBalancer",
    "IAM.User",
    "IAM.Role",
]
if set(get_args(ResourceType)) != set(BY_LABEL):  # pragma: no cover - a maintenance slip
    raise RuntimeError("options.ResourceType and types.ALL_TYPES disagree")


class AwsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    regions: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Region codes to collect (default: every region enabled in the account).",
    )
    resource_types: list[ResourceType] | None = Field(
        default=None,
        min_length=1,
        description="Resource types to collect, as `Group.Type` (default: all).",
    )
    endpoint_url: str | None = Field(
        default=None,
        description=(
            "Send every AWS call to this URL (an AWS-compatible private cloud or a test "
            "double). Without it the AWS_ENDPOINT_URL environment variable applies, if set."
        ),
    )

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for code in value:
            if not _REGION.match(code):
                raise ValueError(f"{code!r} is not a region code (like 'us-east-1')")
        return list(dict.fromkeys(value))

    @field_validator("resource_types")
    @classmethod
    def _types(cls, value: list[ResourceType] | None) -> list[ResourceType] | None:
        return None if value is None else list(dict.fromkeys(value))

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    def wanted(self) -> tuple[TypeKey, ...]:
        """The types to collect, in collection order."""
        if self.resource_types is None:
            return ALL_TYPES
        chosen = set(self.resource_types)
        return tuple(k for k in ALL_TYPES if k.label in chosen)


def parse_options(raw: Mapping[str, Any] | None) -> AwsOptions:
    try:
        return AwsOptions.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise PluginError(f"invalid options of the aws collector: {problems}") from None


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "options"
    got = repr(error.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    return f"{where}: {error['msg']} (got {got})"
