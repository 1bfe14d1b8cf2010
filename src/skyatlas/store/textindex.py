"""Substring search that an index answers instead of a scan of every resource.

A keyword token or a `*web*` name pattern is a substring test, which no B-tree can answer. Both
backends get a trigram index over the resource's search text (lower-cased name, ids, IPs, group
and type; a name pattern looks up its lower-cased text there, then tests the name itself):

- PostgreSQL: `pg_trgm` GIN indexes on the search text and the name (migration 0011); the
  planner uses them for the `LIKE` itself, so nothing extra is needed in the query.
- SQLite: an FTS5 table with the `trigram` tokenizer over the search text, kept in step with
  `cloud_services` by triggers. SQLite never consults it on its own, so a substring condition
  also carries `rowid IN (SELECT rowid FROM cloud_services_text WHERE ... MATCH ...)`: a phrase
  of trigrams matches exactly the rows containing that substring.

A keyword token is answered by the index alone (`contains_all`: exact, since the search text
and the token are both lower-cased); a name pattern keeps its case-sensitive `GLOB` beside the
index's superset (`prefilter_all`). Needles shorter than a trigram cannot use the index and are
tested with `LIKE` / `GLOB` alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from skyatlas.query.sqlfuncs import like_pattern

#: The SQLite FTS5 table (migration 0011) over `cloud_services.search_text`.
FTS_TABLE = "cloud_services_text"
#: A trigram index can only look up needles at least this many characters long.
MIN_NEEDLE = 3


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class trigram_lookup(FunctionElement[bool]):
    """The rows whose search text holds every needle, as found by the trigram index."""

    type = Boolean()
    inherit_cache = True
    # Already a condition: without this SQLAlchemy writes `(... IN (...)) = 1` on SQLite, which
    # hides the IN from the planner and turns the index lookup into a scan.
    _is_implicitly_boolean = True

    def __init__(self, column: Any, needles: Iterable[str]) -> None:
        usable = sorted(set(needles), key=lambda n: (-len(n), n))
        if not usable or len(usable[-1]) < MIN_NEEDLE:
            raise ValueError(f"the trigram index looks up needles of {MIN_NEEDLE}+ characters")
        query = " AND ".join(_phrase(n) for n in usable)
        #: The FTS5 query this lookup asks of the trigram index (SQLite).
        self.fts_query = query
        super().__init__(column, literal(query), *[literal(like_pattern(n)) for n in usable])


class contains_all(trigram_lookup):
    """The search text (`column`) contains every needle (lower-cased, each at least a trigram
    long): exactly, on both backends. On SQLite the trigram index alone answers it (a phrase of
    trigrams is exactly a substring), so a broad match never reads the rows' text; PostgreSQL
    tests `LIKE`, which its trigram index serves."""

    inherit_cache = True
    name = "contains_all"


class contains_all_by_row(contains_all):
    """`contains_all` tested row by row: on SQLite the row id is hidden from the planner
    (`+rowid`), so the query is driven by the index of its sort order and stops after a page
    instead of sorting every match (the lookup itself is made once)."""

    inherit_cache = True
    name = "contains_all_by_row"


class prefilter_all(trigram_lookup):
    """Rows whose search text contains every needle: a superset to AND beside an exact test of
    another column (`column` names the table). PostgreSQL needs none (its indexes serve that
    test directly)."""

    inherit_cache = True
    name = "prefilter_all"


def name_prefilter(column: Any, text: str) -> prefilter_all | None:
    """A prefilter for "the name contains `text`" (case-sensitive): the search text holds the
    lower-cased name. Only for ASCII text, whose lower case is the same character by character
    wherever it stands (Unicode's is not: a final sigma lowers differently)."""
    if not text.isascii() or len(text) < MIN_NEEDLE:
        return None
    return prefilter_all(column, [text.lower()])


@compiles(contains_all, "sqlite")
@compiles(contains_all_by_row, "sqlite")
@compiles(prefilter_all, "sqlite")
def _lookup_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    column, query, *_ = list(element.clauses)
    qualified = compiler.process(column, **kw)
    owner = qualified.rsplit(".", 1)[0] + "." if "." in qualified else ""
    hidden = "+" if isinstance(element, contains_all_by_row) else ""
    return (
        f"({hidden}{owner}rowid IN (SELECT rowid FROM {FTS_TABLE} "
        f"WHERE {FTS_TABLE} MATCH {compiler.process(query, **kw)}))"
    )


@compiles(contains_all)
@compiles(contains_all_by_row)
def _contains_all_other(element: Any, compiler: Any, **kw: Any) -> str:
    column, _, *patterns = list(element.clauses)
    text = compiler.process(column, **kw)
    return (
        "("
        + " AND ".join(f"{text} LIKE {compiler.process(p, **kw)} ESCAPE '\\'" for p in patterns)
        + ")"
    )


@compiles(prefilter_all)
def _prefilter_other(element: Any, compiler: Any, **kw: Any) -> str:
    return "true"


#: SQLite DDL: the FTS5 table over `cloud_services` (external content: the text is not stored
#: twice; full detail, since a substring longer than three characters is a phrase of trigrams,
#: which needs their positions) and the triggers that keep it in step. Updates touch the index
#: only when the text actually changed, so a re-collection that rewrites a row costs nothing
#: here.
SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_text, "
    "content='cloud_services', content_rowid='rowid', tokenize='trigram case_sensitive 1')",
    f"CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON cloud_services BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON cloud_services BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); END",
    f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF search_text ON cloud_services "
    "WHEN old.search_text IS NOT new.search_text BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    # Merge segments 16 at a time rather than 4: fewer passes rewriting the index while a big
    # import writes it (200,000 resources: 82 s instead of 94 s), at no measurable query cost.
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('automerge', 16)",
    # Index what the table already holds.
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
)
SQLITE_DROP = (
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_delete",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
)
