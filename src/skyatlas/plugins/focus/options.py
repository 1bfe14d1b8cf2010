"""The `focus` plugin's options, validated once before anything is read: a typo in an option
must fail the sync with a message naming it, not read the wrong files or the wrong cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skyatlas.plugins.base import PluginError

#: The FOCUS cost columns a sync may take `cost` from.
CostColumn = Literal["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"]


class FocusOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1,
        description=(
            "A file; a directory (every *.csv, *.csv.gz and *.parquet below it, recursively); "
            "a glob (`/exports/**/*.parquet`); or `s3://bucket/prefix`."
        ),
    )
    cost_column: CostColumn = Field(
        "BilledCost", description="The FOCUS column `cost` is read from."
    )
    endpoint_url: str | None = Field(
        None, description="S3 only: an S3-compatible endpoint (a private cloud, a test double)."
    )
    region_name: str | None = Field(
        None, min_length=1, description="S3 only: the bucket's region (default: the secret's)."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        if value.startswith("s3://") and not value[len("s3://") :].split("/", 1)[0]:
            raise ValueError("an s3:// path must name a bucket (s3://bucket/prefix)")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None


def parse_options(raw: Mapping[str, Any] | None) -> FocusOptions:
    """The options, or a `PluginError` listing every problem (`options.<field>: why`)."""
    try:
        return FocusOptions.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"options.{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise PluginError(problems, code="ERROR_INVALID_PARAMETER") from None
