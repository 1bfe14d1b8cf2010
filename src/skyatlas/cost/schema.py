"""The one shape cost rows travel in, from a cost plugin to the store: an Arrow schema.

Plugins hand over Arrow record batches rather than dicts so that a ten-million-row file moves
through the core without a Python object per row; the store loads them in bulk.
"""

from __future__ import annotations

import pyarrow as pa

STRING_MAP = pa.map_(pa.string(), pa.string())
NUMBER_MAP = pa.map_(pa.string(), pa.float64())

#: What a cost plugin yields, one row per cost line (any granularity finer than a day is kept
#: as its own row; `billed_date` is the day it belongs to).
#:
#: * `cost` is the amount in the data source's currency (the FOCUS column chosen by
#:   `options.cost_column`); `usage_quantity` / `usage_unit` the consumed quantity;
#: * `provider` is normalised (`aws`, `azure`, `google_cloud`, `oracle`, ...);
#: * `account_id` is the billing sub-account (it maps the row to a service account/project);
#: * `billed_date` is `YYYY-MM-DD`;
#: * `tags` the resource's tags (a map);
#: * `additional_info` every other text field of the source and `data` every other numeric
#:   field (so nothing in the source is lost; numbers can be summed), each as the text of one
#:   JSON object (`{"ChargeDescription": "...", "x_Discount": null}`; string values in
#:   `additional_info`, numbers in `data`; a null value means "absent" and is not shown).
#:   JSON text rather than Arrow maps because a store loads text many times faster than maps
#:   (a FOCUS row carries twenty-odd of these fields), and these fields are rarely queried.
COST_SCHEMA = pa.schema(
    [
        pa.field("cost", pa.float64()),
        pa.field("usage_quantity", pa.float64()),
        pa.field("usage_unit", pa.string()),
        pa.field("provider", pa.string()),
        pa.field("region_code", pa.string()),
        pa.field("region_key", pa.string()),
        pa.field("product", pa.string()),
        pa.field("usage_type", pa.string()),
        pa.field("resource", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("billed_date", pa.string()),
        pa.field("tags", STRING_MAP),
        pa.field("additional_info", pa.string()),
        pa.field("data", pa.string()),
    ]
)

#: Provider names as sources spell them → the provider ids used everywhere else.
PROVIDER_NAMES = {
    "aws": "aws",
    "amazon web services": "aws",
    "amazon web services, inc.": "aws",
    "microsoft": "azure",
    "azure": "azure",
    "microsoft azure": "azure",
    "google cloud": "google_cloud",
    "google": "google_cloud",
    "gcp": "google_cloud",
    "google_cloud": "google_cloud",
    "oracle": "oracle",
    "oracle cloud infrastructure": "oracle",
    "oci": "oracle",
    "kakaocloud": "kakaocloud",
    "kakao cloud": "kakaocloud",
    "alibaba cloud": "alibaba_cloud",
    "ibm": "ibm_cloud",
}


def normalise_provider(name: str | None) -> str | None:
    """`AWS` → `aws`, `Microsoft` → `azure`, `Google Cloud` → `google_cloud`; unknown names
    become lower snake case so they still group consistently."""
    if name is None:
        return None
    key = name.strip().lower()
    if not key:
        return None
    return PROVIDER_NAMES.get(key, "_".join(key.replace(",", " ").replace(".", " ").split()))
