"""The keys a cloud-service query may use, and how each becomes SQL.

Core fields are indexed columns; `data.*` and `metadata.*` are JSON paths with list semantics;
`tags.<provider>.<key>` are lookups in the provider-tag index table. Nothing else is a key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_, select

from skyatlas.errors import InvalidParameter
from skyatlas.query.compile import (
    Field,
    FieldSet,
    Prefix,
    compile_condition,
    json_document,
    json_field,
)
from skyatlas.query.model import EMPTY_LIST, Condition
from skyatlas.query.sqlfuncs import json_scalar, like_pattern
from skyatlas.store import textindex
from skyatlas.store.tables import cloud_service_collections as marks
from skyatlas.store.tables import cloud_service_tags as tags_table
from skyatlas.store.tables import cloud_services as cs
from skyatlas.store.tables import custom_tag_links, custom_tag_links_with_tags, custom_tags

_NEGATIONS = {
    "not": "eq",
    "not_in": "in",
    "not_contain": "contain",
    "not_contain_in": "contain_in",
}


#: `tags.custom.<key>`: the Resource Explorer dialect's custom tags attached to the resource.
CUSTOM = "custom"


def _value_column(provider: str) -> Any:
    return custom_tags.c.value if provider == CUSTOM else tags_table.c.value


def _tag_ids(provider: str, keys: list[str], value_clause: Any = None) -> Any:
    """Resource ids having a tag of one of these keys (and a value satisfying `value_clause`)."""
    if provider == CUSTOM:
        stmt = (
            select(custom_tag_links.c.cloud_service_id)
            .select_from(custom_tag_links_with_tags())
            .where(custom_tags.c.key.in_(keys))
        )
    else:
        stmt = select(tags_table.c.cloud_service_id).where(
            tags_table.c.provider == provider, tags_table.c.key.in_(keys)
        )
    return stmt.where(value_clause) if value_clause is not None else stmt


def tag_condition(provider: str, key: str) -> Any:
    value_field = Field(_value_column(provider), "string")
    value_fields = FieldSet(id_key="value", columns={"value": value_field})
    has_tag = cs.c.cloud_service_id.in_(_tag_ids(provider, [key]))

    def on_value(cond: Condition) -> ColumnElement[bool]:
        clause = compile_condition(
            Condition(key="value", op=cond.op, value=cond.value, label=cond.label), value_fields
        )
        return cs.c.cloud_service_id.in_(_tag_ids(provider, [key], clause))

    def compile_tag(cond: Condition) -> ColumnElement[bool]:
        op, value = cond.op, cond.value
        if op in _NEGATIONS:
            positive = Condition(cond.key, _NEGATIONS[op], value, cond.label)
            return not_(compile_tag(positive))
        if op == "eq" and value is None:
            return not_(has_tag)
        if op == "in":
            present = [v for v in value if v is not None and v is not EMPTY_LIST]
            parts = []
            if present:
                parts.append(on_value(Condition(cond.key, "in", tuple(present), cond.label)))
            if any(v is None for v in value):
                parts.append(not_(has_tag))
            return or_(*parts) if parts else cs.c.cloud_service_id.is_(None)
        if op == "exists":
            return has_tag if value else not_(has_tag)
        if op == "match":
            raise InvalidParameter(f"{cond.label}: tag values are strings; 'match' needs a list")
        return on_value(cond)

    return compile_tag


def _tags_prefix() -> Prefix:
    def resolve(rest: str) -> Field:
        provider, _, key = rest.partition(".")
        if not provider or not key:
            raise InvalidParameter(
                f"'tags.{rest}': write tags.<provider>.<key>, e.g. tags.aws.Name"
            )
        return Field(json_scalar(cs.c.tags, (provider, key)), "json", tag_condition(provider, key))

    def split(rest: str) -> list[str]:
        provider, _, key = rest.partition(".")
        return [provider, key] if key else [provider]

    return Prefix(resolve=resolve, split=split)


def _tag_keys_prefix() -> Prefix:
    def resolve(provider: str) -> Field:
        def compile_keys(cond: Condition) -> ColumnElement[bool]:
            if cond.op not in ("eq", "in", "not", "not_in"):
                raise InvalidParameter(f"{cond.label}: tag_keys supports eq, not, in, not_in")
            values = cond.value if cond.op in ("in", "not_in") else (cond.value,)
            keys = [v for v in values if isinstance(v, str)]
            ids = _tag_ids(provider, keys)
            clause = cs.c.cloud_service_id.in_(ids)
            return clause if cond.op in ("eq", "in") else not_(clause)

        return Field(json_scalar(cs.c.tags, (provider,)), "json", compile_keys)

    return Prefix(resolve=resolve, split=lambda rest: [rest])


def _collection_info(name: str) -> Any:
    """A field of the resource's collection mark (its own table): a lookup by primary key, so
    it filters, sorts and groups like a column; NULL for a resource no collector wrote."""
    return (
        select(marks.c[name])
        .where(marks.c.cloud_service_id == cs.c.cloud_service_id)
        .scalar_subquery()
    )


def _columns() -> dict[str, Field]:
    string = [
        "cloud_service_id",
        "name",
        "state",
        "account",
        "instance_type",
        "cloud_service_type",
        "cloud_service_group",
        "provider",
        "region_code",
        "domain_id",
        "workspace_id",
        "project_id",
    ]
    columns = {name: Field(cs.c[name], "string") for name in string}
    columns["instance_size"] = Field(cs.c.instance_size, "number")
    for name in ("created_at", "updated_at", "deleted_at"):
        columns[name] = Field(cs.c[name], "datetime")
    columns["reference.resource_id"] = Field(cs.c.resource_id, "string")
    columns["reference.external_link"] = Field(cs.c.external_link, "string")
    for name in ("service_account_id", "secret_id", "collector_id"):
        columns[f"collection_info.{name}"] = Field(_collection_info(name), "string")
    columns["collection_info.last_collected_at"] = Field(
        _collection_info("last_collected_at"), "datetime"
    )
    columns["ip_addresses"] = json_field(cs.c.ip_addresses, ())
    # Internal: the pre-folded text keyword tokens match; not part of the record.
    columns["_search_text"] = Field(cs.c.search_text, "string")
    return columns


def keyword_search(tokens: list[str], probe: bool = False) -> ColumnElement[bool]:
    """Every token is a substring of the resource's search text (name, ids, IPs, group, type).

    The text is stored lower-cased, so lowered tokens compare exactly: through the trigram
    index (`skyatlas.store.textindex`) when a token is at least three characters long, with a
    plain LIKE when it is shorter. `probe`: test each row rather than drive the query."""
    lowered = [t.lower() for t in tokens]
    long = [t for t in lowered if len(t) >= textindex.MIN_NEEDLE]
    clauses: list[ColumnElement[bool]] = [
        cs.c.search_text.like(like_pattern(t), escape="\\")
        for t in lowered
        if len(t) < textindex.MIN_NEEDLE
    ]
    if long:
        lookup = textindex.contains_all_by_row if probe else textindex.contains_all
        clauses.insert(0, lookup(cs.c.search_text, long))
    return and_(*clauses)


FIELDS = FieldSet(
    id_key="cloud_service_id",
    columns=_columns(),
    prefixes={
        "data": json_document(cs.c.data),
        "metadata": json_document(cs.c.metadata),
        "tags": _tags_prefix(),
        "tag_keys": _tag_keys_prefix(),
    },
    keyword=("_search_text",),
    keyword_search=keyword_search,
)
