"""`plugin_info.options` of the aws-cost-explorer plugin, checked before anything talks to AWS:
a misspelt metric must fail the sync with a message, not silently sync another kind of cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skyatlas.plugins.base import PluginError

#: The cost metrics Cost Explorer can report (what `options.metric` accepts).
Metric = Literal[
    "UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost"
]
DEFAULT_METRIC: Metric = "UnblendedCost"
DEFAULT_MONTHS_BACK = 3
#: Cost Explorer keeps 38 months at most (13 unless multi-year data is enabled): asking for
#: more can only fail, so it is refused here with a clearer message.
MAX_MONTHS_BACK = 38


class AwsCostOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Metric = Field(
        default=DEFAULT_METRIC,
        description="The Cost Explorer metric stored as each row's cost.",
    )
    months_back: int = Field(
        default=DEFAULT_MONTHS_BACK,
        ge=1,
        le=MAX_MONTHS_BACK,
        strict=True,
        description=(
            "When the sync names no date range: how many calendar months to fetch, the current "
            "one included (3: the first day of the month two months ago through today)."
        ),
    )
    endpoint_url: str | None = Field(
        default=None,
        description=(
            "Send every AWS call to this URL (a test double). Without it the AWS_ENDPOINT_URL "
            "environment variable applies, if set."
        ),
    )

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None


def parse_options(raw: Mapping[str, Any] | None) -> AwsCostOptions:
    """The options, or a `PluginError` naming every problem (shown to users as is)."""
    try:
        return AwsCostOptions.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise PluginError(f"invalid options of the aws-cost-explorer plugin: {problems}") from None


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "options"
    got = repr(error.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    return f"{where}: {error['msg']} (got {got})"
