"""A read connection over the cost store that looks like a SQLAlchemy `Connection` to the
shared query executors (`run_list`, `run_stat`, analyze): they call `execute(stmt)` and read
`scalar_one()`, `scalars().all()` or rows with `_mapping`. So cost queries take exactly the
road every other resource's queries take, whichever backend holds the costs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class _Row:
    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


class _Result:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows
        self._scalars = False

    def __iter__(self) -> Iterator[Any]:
        if self._scalars:
            return (next(iter(r.values())) for r in self._rows)
        return (_Row(r) for r in self._rows)

    def scalar_one(self) -> Any:
        (row,) = self._rows
        return next(iter(row.values()))

    def scalars(self) -> _Result:
        out = _Result(self._rows)
        out._scalars = True
        return out

    def all(self) -> list[Any]:
        return list(self)

    def first(self) -> Any:
        return next(iter(self), None)


class StoreReader:
    """`execute(stmt)` against a cost store's `fetch`."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.dialect = getattr(store, "dialect", None)

    def execute(self, stmt: Any) -> _Result:
        return _Result(self._store.fetch(stmt))
