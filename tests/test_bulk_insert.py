"""The many-row insert used by imports and collections: every row lands once, and the
statements it prepares stay few whatever the batch sizes (each distinct statement stays
prepared in the driver, megabytes apiece, so a new size per batch made imports grow)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, select

from skyatlas.store import bulk


@given(total=st.integers(0, 100_000), most=st.integers(1, 5_000))
def test_chunk_sizes_cover_every_row_with_few_distinct_sizes(total: int, most: int) -> None:
    sizes = bulk.chunk_sizes(total, most)
    assert sum(sizes) == total
    assert all(0 < s <= most for s in sizes)
    assert len(set(sizes)) <= math.floor(math.log2(most)) + 2


def test_batches_of_every_size_insert_each_row_once_through_few_statements() -> None:
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("a", Integer, primary_key=True), Column("b", String))
    table.metadata.create_all(engine)
    bulk._many_rows.cache_clear()
    written = 0
    with engine.begin() as conn:
        for size in range(1, 400):
            rows = [{"a": written + i, "b": f"v{written + i}"} for i in range(size)]
            bulk.insert_rows(conn, table, rows)
            written += size
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == written
        assert conn.execute(select(func.count(table.c.a.distinct()))).scalar_one() == written
        last = conn.execute(select(table.c.b).where(table.c.a == written - 1)).scalar_one()
        assert last == f"v{written - 1}"
    # 399 different batch sizes, yet only the power-of-two statements were ever built
    assert bulk._many_rows.cache_info().currsize <= 9
