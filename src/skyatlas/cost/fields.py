"""The keys cost queries answer to, for the facts and for the monthly rollup.

`tags.<key>` (a map), `additional_info.<key>` and `data.<key>` (flat JSON objects; DuckDB
keeps them as JSON text, PostgreSQL as jsonb) take the whole rest of the key as the map key (a
FOCUS tag key may contain dots). The key is rendered into the SQL as a quoted literal —
GROUP BY needs the same text in SELECT and GROUP BY, which bound parameters cannot give —
after a check that it holds no control characters, quotes or backslashes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from skyatlas.cost.store import tag_value_sql
from skyatlas.cost.tables import DIMENSIONS, cost_monthly, costs
from skyatlas.errors import InvalidParameter
from skyatlas.query.compile import Field, FieldSet, Prefix


class map_text(FunctionElement[str]):
    """The value of tag `key` (DuckDB: a list of key/value entries, PostgreSQL: jsonb)."""

    type = String()
    inherit_cache = True
    name = "map_text"


def _parts(element: Any, compiler: Any, **kw: Any) -> tuple[str, str]:
    column, key = list(element.clauses)
    return compiler.process(column, **kw), compiler.process(key, literal_binds=True, **kw)


@compiles(map_text, "duckdb")
def _map_duckdb(element: Any, compiler: Any, **kw: Any) -> str:
    # The embedded store keeps tags as a list of key/value entries (see TAGS_TYPE).
    return tag_value_sql(*_parts(element, compiler, **kw))


class json_key_text(FunctionElement[str]):
    """`column ->> key` of a JSON object held as text (DuckDB) or jsonb (PostgreSQL)."""

    type = String()
    inherit_cache = True
    name = "json_key_text"


class json_key_number(FunctionElement[float]):
    type = Float()
    inherit_cache = True
    name = "json_key_number"


@compiles(json_key_text, "duckdb")
def _json_text_duckdb(element: Any, compiler: Any, **kw: Any) -> str:
    column, key = list(element.clauses)
    path = compiler.process(literal(f'$."{key.value}"'), literal_binds=True, **kw)
    return f"json_extract_string({compiler.process(column, **kw)}, {path})"


@compiles(json_key_number, "duckdb")
def _json_number_duckdb(element: Any, compiler: Any, **kw: Any) -> str:
    return f"TRY_CAST({_json_text_duckdb(element, compiler, **kw)} AS DOUBLE)"


@compiles(json_key_text, "postgresql")
@compiles(map_text, "postgresql")
def _map_text_pg(element: Any, compiler: Any, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    return f"({column} ->> {key})"


@compiles(json_key_number, "postgresql")
def _json_number_pg(element: Any, compiler: Any, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    return f"CAST({column} ->> {key} AS double precision)"


def _map_key(rest: str) -> str:
    if not rest or any(ord(c) < 0x20 or c in '"\\' for c in rest) or len(rest) > 256:
        raise InvalidParameter(
            f"'{rest}' is not a valid key: no quotes, backslashes or control characters"
        )
    return rest


def _map_prefix(column: ColumnElement[Any], number: bool = False, json: bool = False) -> Prefix:
    """`tags.<key>` (`json` False: a tag, always text) or `additional_info.<key>` /
    `data.<key>` (`json` True: a key of a JSON object, as text or as a `number`)."""
    element: Any = (json_key_number if number else json_key_text) if json else map_text
    return Prefix(
        resolve=lambda rest: Field(
            element(column, literal(_map_key(rest))), "number" if number else "string"
        ),
        split=lambda rest: [rest],
    )


def _columns(table: Any, numbers: tuple[str, ...], texts: tuple[str, ...]) -> dict[str, Field]:
    out = {name: Field(table.c[name], "string") for name in texts}
    out.update({name: Field(table.c[name], "number") for name in numbers})
    return out


COST_FIELDS = FieldSet(
    id_key="cost_id",
    columns=_columns(
        costs,
        ("cost", "usage_quantity"),
        ("cost_id", *DIMENSIONS, "resource", "billed_date", "billed_month", "billed_year"),
    ),
    prefixes={
        "tags": _map_prefix(costs.c.tags),
        "additional_info": _map_prefix(costs.c.additional_info, json=True),
        "data": _map_prefix(costs.c.data, number=True, json=True),
    },
    keyword=("product", "provider", "region_code", "resource", "usage_type", "account_id"),
)

#: The rollup answers what only needs its dimensions, the month, and sums or counts.
ROLLUP_FIELDS = FieldSet(
    id_key="billed_month",
    columns={
        **_columns(
            cost_monthly,
            ("cost", "usage_quantity", "row_count"),
            (*DIMENSIONS, "billed_month", "billed_year"),
        ),
    },
    prefixes={"tags": _map_prefix(cost_monthly.c.tags)},
)
