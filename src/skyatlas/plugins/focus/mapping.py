"""The FOCUS → `COST_SCHEMA` mapping: one DuckDB `SELECT` per file, from the file's columns.

DuckDB does the per-row work (casts, time stamps, fallbacks, the checks that fail a sync, and
the text of the `additional_info` and `data` JSON objects); its output is flat and
`skyatlas.plugins.focus.batches` turns it into COST_SCHEMA batches with a few vectorised Arrow
steps (the few values computed once per distinct value: the provider's normalised name, the
parsed tags). The mapping itself is documented in the package docstring
(`skyatlas.plugins.focus`).

Each source column is first turned into at most three normalised values: its *text* (empty
strings are NULL, time stamps ISO 8601 in UTC, nested Parquet values JSON), its *number*
(`TRY_CAST` to DOUBLE, so a quoted decimal in a CSV and a DECIMAL in a Parquet file give the
same number) and, for date-time columns, its *instant* (zone-less means UTC). The same column
therefore maps the same way whatever the file format and whatever DuckDB guessed about it.

The JSON objects are written with `concat` of constant `"key":` parts and `to_json` of each
value (`json_object` gives the same text and is up to twice as slow on text values). `to_json`
escapes text as JSON requires and writes a DOUBLE as the shortest text that reads back as the
same double (`8e-7`, `1234.56789012345`, `100.0`), so `data` loses no digit; NaN and
infinities, which JSON cannot hold, are not numbers there (their text goes to
`additional_info`). Every key is written, NULL values as `null` ("absent"): cheaper than
leaving them out row by row. The one exception is the text of the values of numeric columns
that are not numbers: rows without any (nearly all) leave those keys out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

#: Columns FOCUS (1.0 to 1.3) defines as Decimal. They, and any other column whose name ends in
#: Cost, Price or Quantity (`x_BlendedCost`), go to `data` as numbers.
NUMERIC_COLUMNS = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingQuantity",
    "ConsumedQuantity",
    "CommitmentDiscountQuantity",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
)
_NUMERIC_SUFFIXES = ("cost", "price", "quantity")
#: Columns FOCUS defines as Date/Time: rendered in `additional_info` as ISO 8601 UTC.
DATETIME_COLUMNS = (
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
)
#: Columns whose value a mapped field reproduces exactly, so `additional_info` leaves them out.
#: (Fallback columns such as PricingUnit or PublisherName, and ProviderName, whose spelling
#: `provider` normalises away, are kept there.)
CONSUMED_COLUMNS = (
    "ConsumedUnit",
    "RegionId",
    "ServiceName",
    "ResourceType",
    "ResourceId",
    "SubAccountId",
)
#: Where `provider` is read from, first non-NULL wins (ServiceProviderName is FOCUS 1.3's name).
PROVIDER_COLUMNS = ("ProviderName", "ServiceProviderName", "PublisherName")
TAGS_COLUMN = "Tags"
DATE_COLUMN = "ChargePeriodStart"

_TEXT_TYPES = ("VARCHAR", "CHAR", "BPCHAR", "TEXT", "STRING")
#: Number types that can hold NaN and infinities (which JSON cannot).
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8")
_NUMBER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
)


def is_numeric(name: str) -> bool:
    lower = name.lower()
    return lower in _NUMERIC_LOWER or lower.endswith(_NUMERIC_SUFFIXES)


_NUMERIC_LOWER = frozenset(c.lower() for c in NUMERIC_COLUMNS)
_DATETIME_LOWER = frozenset(c.lower() for c in DATETIME_COLUMNS)
_CONSUMED_LOWER = frozenset(c.lower() for c in CONSUMED_COLUMNS)


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _kind(type_name: str) -> str:
    """text | number | instant | date | json | other, from a DuckDB type name."""
    t = type_name.upper()
    if t in _TEXT_TYPES or t.startswith("VARCHAR"):
        return "text"
    if t in _NUMBER_TYPES or t.startswith("DECIMAL"):
        return "number"
    if t.startswith("TIMESTAMP"):
        return "instant"
    if t == "DATE":
        return "date"
    if t == "JSON":
        return "jsontext"
    if t.startswith(("STRUCT", "MAP", "UNION")) or t.endswith("]"):
        return "json"
    return "other"


@dataclass(frozen=True)
class Column:
    """One source column and its normalised values as SQL expressions over the source row."""

    name: str
    type_name: str

    @property
    def kind(self) -> str:
        return _kind(self.type_name)

    def text(self) -> str:
        """The value as text; NULL for NULL or an empty string."""
        col = ident(self.name)
        kind = self.kind
        if kind == "text":
            return f"NULLIF({col}, '')"
        if kind in ("instant", "date"):
            return iso(self.instant())
        if kind == "json":
            return f"CAST(to_json({col}) AS VARCHAR)"
        return f"NULLIF(CAST({col} AS VARCHAR), '')"

    def number(self) -> str:
        col = ident(self.name)
        if self.kind == "number":
            return f"CAST({col} AS DOUBLE)"
        if self.kind == "text":
            return f"TRY_CAST({col} AS DOUBLE)"
        return f"TRY_CAST({self.text()} AS DOUBLE)"

    def json_number(self) -> str:
        """The number for `data`: NULL where it is not a finite number."""
        if self.kind == "number" and self.type_name.upper() not in _FLOAT_TYPES:
            return self.number()  # integers and decimals are always finite
        return f"CASE WHEN isfinite({self.number()}) THEN {self.number()} END"

    def can_hold_other_values(self) -> bool:
        """Whether a value may be something other than a finite number or NULL (text,
        NaN, infinities); not for integer and decimal columns."""
        return not (self.kind == "number" and self.type_name.upper() not in _FLOAT_TYPES)

    def number_or_zero(self) -> str:
        """The number; 0 where the value is NULL, NULL where it is text that is not one."""
        if self.kind == "number":
            return f"COALESCE({self.number()}, 0)"
        return f"COALESCE({self.number()}, CASE WHEN {self.text()} IS NULL THEN 0 END)"

    def not_a_number_text(self) -> str:
        """The text of a value that is not a finite number (`n/a`, `nan`, `inf`), NULL
        otherwise."""
        return f"CASE WHEN isfinite({self.number()}) THEN NULL ELSE {self.text()} END"

    def instant(self) -> str:
        """The value as a TIMESTAMP in UTC. Text without a zone is UTC; text with a `Z` or an
        offset, and a zoned Parquet timestamp, are converted through their epoch (which needs
        no time zone arithmetic: a TIMESTAMPTZ → TIMESTAMP cast does, and is many times
        slower)."""
        col = ident(self.name)
        if self.kind == "instant" and "TIME ZONE" not in self.type_name.upper():
            return f"CAST({col} AS TIMESTAMP)"
        if self.kind == "instant":
            return f"make_timestamp(epoch_us({col}))"
        if self.kind == "date":
            return f"CAST({col} AS TIMESTAMP)"
        zoned = f"TRY_CAST({col if self.kind == 'text' else self.text()} AS TIMESTAMPTZ)"
        return f"make_timestamp(epoch_us({zoned}))"


def iso(instant: str) -> str:
    """ISO 8601 with a `Z` (`2024-09-18T22:00:00Z`, fractions of a second only when there are
    any) of a UTC TIMESTAMP: DuckDB's own rendering with a `T` for the space, several times
    faster than `strftime`."""
    return f"replace(CAST({instant} AS VARCHAR), ' ', 'T') || 'Z'"


def missing_columns(names: list[str], cost_column: str) -> list[str]:
    """The required columns a file lacks, as users should read them."""
    have = {n.lower() for n in names}
    missing = [c for c in (DATE_COLUMN, cost_column) if c.lower() not in have]
    if not any(c.lower() in have for c in PROVIDER_COLUMNS):
        missing.append(" or ".join(PROVIDER_COLUMNS))
    return missing


@dataclass(frozen=True)
class Plan:
    """The statement for one file and the shape of its output.

    Output columns, in order (`OUTPUTS`): `cost`, `usage_quantity`, `usage_unit`,
    `provider_name` (as the file spells it), `region_code`, `product`, `usage_type`,
    `resource`, `account_id`, `billed_date`, `tags_text` (the tags as JSON text, NULL when
    none), `additional_info` and `data` (the text of a JSON object, `null` where the row has
    no value; `additional_info` always has at least the `ChargePeriodStart` key)."""

    sql: str
    #: The tags column as the file names it (None: the file has none). Its text is added to
    #: `additional_info` under this name in the rows where it is not a JSON object (`batches`).
    tags_column: str | None


OUTPUTS = (
    "cost",
    "usage_quantity",
    "usage_unit",
    "provider_name",
    "region_code",
    "product",
    "usage_type",
    "resource",
    "account_id",
    "billed_date",
    "tags_text",
    "additional_info",
    "data",
)


def plan(
    source: str,
    columns: list[Column],
    cost_column: str,
    display: str,
    row_number: str | None = None,
) -> Plan:
    """The statement mapping the rows of `source` (a table function call) to the flat output.

    `display` (the file as users know it) goes into the messages of the rows that fail it.
    `row_number`, when given, is an expression numbering the rows from 1 in file order; it
    is output last, as `_n`."""
    by_lower = {c.name.lower(): c for c in columns}

    def first(*names: str, number: bool = False) -> str:
        found = [
            by_lower[n.lower()].number() if number else by_lower[n.lower()].text()
            for n in names
            if n.lower() in by_lower
        ]
        if not found:
            return f"CAST(NULL AS {'DOUBLE' if number else 'VARCHAR'})"
        return found[0] if len(found) == 1 else f"COALESCE({', '.join(found)})"

    cost, date = by_lower[cost_column.lower()], by_lower[DATE_COLUMN.lower()]
    tags = by_lower.get(TAGS_COLUMN.lower())

    info: list[tuple[str, str]] = []
    data: list[tuple[str, str]] = []
    #: Numeric columns that may hold something else than a finite number (text, NaN).
    mixed: list[Column] = []
    for col in columns:
        lower = col.name.lower()
        if is_numeric(col.name):
            data.append((col.name, col.json_number()))
            if col.can_hold_other_values():  # a value that is not a number stays, as text
                mixed.append(col)
                info.append((col.name, col.not_a_number_text()))
        elif col is tags or lower in _CONSUMED_LOWER:
            continue
        elif lower in _DATETIME_LOWER and col.kind not in ("instant", "date"):
            info.append((col.name, f"COALESCE({iso(col.instant())}, {col.text()})"))
        else:
            info.append((col.name, col.text()))
    # Values of numeric columns that are not numbers are rare: the rows whose numbers (0 for
    # NULL) have a finite sum get an object without those keys, which is much cheaper than
    # writing a `null` for each. (A sum that overflows only takes the slower way.)
    mixed_names = {c.name for c in mixed}
    numbers_only = [(key, expr) for key, expr in info if key not in mixed_names]
    if mixed:
        total = " + ".join(c.number_or_zero() for c in mixed)
        info_sql = (
            f"CASE WHEN isfinite({total}) THEN {json_object(numbers_only)} "
            f"ELSE {json_object(info)} END"
        )
    else:
        info_sql = json_object(info)

    outputs = [
        f"{_cost_sql(cost, display)} AS cost",
        f"{first('ConsumedQuantity', 'PricingQuantity', number=True)} AS usage_quantity",
        f"{first('ConsumedUnit', 'PricingUnit')} AS usage_unit",
        f"{first(*PROVIDER_COLUMNS)} AS provider_name",
        f"{first('RegionId')} AS region_code",
        f"{first('ServiceName')} AS product",
        f"{first('ResourceType', 'ChargeCategory')} AS usage_type",
        f"{first('ResourceId')} AS resource",
        f"{first('SubAccountId', 'BillingAccountId')} AS account_id",
        f"{_date_sql(date, display)} AS billed_date",
        f"{tags.text() if tags else 'CAST(NULL AS VARCHAR)'} AS tags_text",
        f"{info_sql} AS additional_info",
        f"{json_object(data)} AS data",
    ]
    if row_number is not None:
        outputs.append(f"{row_number} AS _n")
    select_list = ",\n    ".join(outputs)
    return Plan(
        sql=f"SELECT\n    {select_list}\nFROM {source}",
        tags_column=tags.name if tags else None,
    )


def json_object(entries: list[tuple[str, str]]) -> str:
    """The text of a JSON object with a key per entry (`null` where the value is NULL): the
    text `json_object` writes, with `concat` and `to_json` of each value (up to twice as fast
    as `json_object` for text values, as fast for numbers)."""
    if not entries:
        return "CAST('{}' AS VARCHAR)"
    parts = []
    for n, (key, value) in enumerate(entries):
        parts.append(literal(("{" if n == 0 else ",") + json_key(key) + ":"))
        parts.append(f"COALESCE(CAST(to_json({value}) AS VARCHAR), 'null')")
    return f"concat({', '.join(parts)}, '}}')"


def json_key(key: str) -> str:
    """`key` as a JSON string (`"x_Note"`)."""
    return json.dumps(key, ensure_ascii=False)


def _cost_sql(cost: Column, display: str) -> str:
    """The cost as a number; a value that is not one fails the sync (a cost silently read as
    NULL would understate every total)."""
    if cost.kind == "number":
        return cost.number()
    bad = _concat(literal(f"{display}: {cost.name} '"), cost.text(), literal("' is not a number"))
    return (
        f"CASE WHEN {cost.number()} IS NULL AND {cost.text()} IS NOT NULL "
        f"THEN CAST(error({bad}) AS DOUBLE) ELSE {cost.number()} END"
    )


def _date_sql(date: Column, display: str) -> str:
    """The UTC day of the charge; a row without a readable one fails the sync (it could not
    be put in any month)."""
    missing = literal(f"{display}: a row has no {date.name}")
    bad = _concat(
        literal(f"{display}: {date.name} '"), date.text(), literal("' is not a date and time")
    )
    return (
        f"CASE WHEN {date.instant()} IS NULL THEN CAST(error(CASE WHEN {date.text()} IS NULL "
        f"THEN {missing} ELSE {bad} END) AS VARCHAR) "
        f"ELSE CAST(CAST({date.instant()} AS DATE) AS VARCHAR) END"
    )


def _concat(*parts: str) -> str:
    return " || ".join(parts)
