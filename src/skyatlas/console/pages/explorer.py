"""Resource Explorer and Tags: search by filter_string and KCRN, attach and detach custom tags,
create and delete tags.

Every request is a Resource Explorer operation as the signed-in user (`view.explorer`), so the
grammar, the limits and the messages are the API's. Tag changes are asynchronous (202 and an
operation id): the page shows "Applying…" and polls the operations every second with htmx, then
swaps in the affected rows (or the tags table) once they have applied, without a reload.

One thing the console does on its own: a custom tag belongs to one project, so "attach env=prod"
to resources of several projects creates (or finds) env=prod in each of those projects and
attaches each project's resources to its own tag.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.responses import Response

from skyatlas.console.pages.inventory import project_names
from skyatlas.console.web import PREFIX, Pages, View, error_text
from skyatlas.errors import InvalidParameter, SkyatlasError
from skyatlas.explorer import kcrn as kcrn_text
from skyatlas.explorer.filter_string import (
    ESCAPABLE,
    RESOURCE_GRAMMAR,
    TAG_GRAMMAR,
    escape,
)

pages = Pages()

BASE = PREFIX + "/explorer"
TAGS = PREFIX + "/tags"
SEARCH = "/api/v1/resources/search"
TAG_SEARCH = "/api/v1/tags/search"
OPERATION = "/api/v1/operations/{operation_id}"
PAGE_SIZES = (20, 50, 100)
DEFAULT_LIMIT = 20
#: The API's page limit: the most rows one search answers (and the most tags one list shows).
MAX_LIMIT = 500
RESOURCE_COLUMNS = [
    ("Name", "resource_name"),
    ("Resource ID", "resource_id"),
    ("Service", "service"),
    ("Resource type", "resource_type"),
]
TAG_COLUMNS = [
    ("Key", "tag.key"),
    ("Value", "tag.value"),
    ("Type", "tag.type"),
    ("Created", "tag.created_at"),
]
_FORM_SPELLING = {
    "exact": "x",
    "contains": "*x*",
    "prefix": "x*",
    "suffix": "*x",
    "any": "*",
}


def grammar_help(grammar: Any) -> list[tuple[str, str]]:
    """(key, value forms) of a filter_string grammar, read from the grammar itself."""
    return [
        (key, ", ".join(_FORM_SPELLING[f] for f in _FORM_SPELLING if f in forms))
        for key, forms in grammar.keys.items()
    ]


def _api_sort(sort: str) -> str | None:
    if not sort:
        return None
    return sort if sort.startswith("-") else "+" + sort


def _page(view: View) -> tuple[int, int]:
    limit = view.int_arg("limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    return view.int_arg("start", 1, high=10_000_000), limit


# -- resources -----------------------------------------------------------------------------------


@dataclass
class Search:
    filter_string: str = ""
    kcrn: str = ""
    sort: str = ""
    start: int = 1
    limit: int = DEFAULT_LIMIT

    def params(self, **changes: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "filter_string": self.filter_string,
            "kcrn": self.kcrn,
            "sort": self.sort,
            "start": self.start if self.start > 1 else None,
            "limit": self.limit if self.limit != DEFAULT_LIMIT else None,
        }
        values.update(changes)
        return values

    def body(self) -> dict[str, Any]:
        flt = {}
        if self.filter_string:
            flt["filter_string"] = self.filter_string
        if self.kcrn:
            flt["filter_kcrn"] = self.kcrn
        body: dict[str, Any] = {"offset": self.start - 1, "limit": self.limit}
        if flt:
            body["filter"] = flt
        sort = _api_sort(self.sort)
        if sort:
            body["sort"] = sort
        return body


def read_search(view: View) -> Search:
    start, limit = _page(view)
    return Search(
        # not view.arg: leading and trailing spaces are part of what the user searches for
        filter_string=view.query.get("filter_string", ""),
        kcrn=view.query.get("kcrn", "").strip(),
        sort=view.arg("sort"),
        start=start,
        limit=limit,
    )


def custom_pairs(view: View) -> list[tuple[str, str]]:
    """The custom tags one may pick, as key=value pairs (one pair may exist in several
    projects; the console resolves it per project)."""
    try:
        answer = view.explorer(
            "POST",
            TAG_SEARCH,
            {
                "filter": {"filter_string": "tag.type=custom"},
                "limit": MAX_LIMIT,
                "sort": "+tag.key",
            },
        )
    except SkyatlasError:
        return []
    return sorted({(t["key"], t["value"]) for t in answer["tags"]})


def pair_value(key: str, value: str) -> str:
    return json.dumps([key, value], ensure_ascii=False)


def _results(view: View, search: Search) -> dict[str, Any]:
    try:
        answer = view.explorer("POST", SEARCH, search.body())
    except SkyatlasError as exc:
        if exc.status >= 500:
            raise
        return {"resources": [], "total": 0, "error": error_text(exc)}
    return {"resources": answer["resources"], "total": answer["total_count"], "error": None}


def _search_context(view: View, search: Search) -> dict[str, Any]:
    return {
        "search": search,
        "columns": RESOURCE_COLUMNS,
        "page_sizes": PAGE_SIZES,
        "projects": project_names(view),
        "pager_url": view.url(BASE, **search.params(start=None, limit=None)),
        "sort_url": view.url(BASE, **search.params(start=None, sort=None)),
        "size_url": view.url(BASE, **search.params(start=None, limit=None)),
        "self_url": view.url(BASE, **search.params()),
        **_results(view, search),
    }


@pages.get("/explorer")
def explorer(view: View) -> Response:
    search = read_search(view)
    context = _search_context(view, search)
    if view.wants_fragment("explorer-results"):
        view.response_headers["HX-Push-Url"] = context["self_url"]
        return view.render("explorer/_results.html", standalone=True, **context)
    return view.render(
        "explorer/search.html",
        standalone=False,
        grammar=grammar_help(RESOURCE_GRAMMAR),
        words=sorted(RESOURCE_GRAMMAR.words),
        escapable=" ".join(sorted(ESCAPABLE)),
        pairs=None,
        pair_value=pair_value,
        **context,
    )


@pages.get("/explorer/tag-choices")
def tag_choices(view: View) -> Response:
    return view.render("explorer/_tag_choice.html", pairs=custom_pairs(view), pair_value=pair_value)


def fetch_rows(view: View, kcrns: list[str]) -> list[dict[str, Any]]:
    """The current state of these resources, one search per KCRN (a KCRN without `*` is an
    exact match; with one it is a glob, and only the equal KCRN is kept)."""
    rows = []
    for text in dict.fromkeys(kcrns):
        try:
            answer = view.explorer("POST", SEARCH, {"filter": {"filter_kcrn": text}, "limit": 10})
        except SkyatlasError:
            continue
        rows.extend(r for r in answer["resources"] if r["kcrn"] == text)
    return rows


def _chosen_pair(view: View) -> tuple[str, str] | None:
    """A new tag typed in (key and value) wins over the tag picked in the list."""
    key = view.form.get("new_key")
    if key is not None and str(key).strip():
        return str(key).strip(), str(view.form.get("new_value") or "")
    chosen = view.arg("tag")
    if chosen:
        try:
            k, v = json.loads(chosen)
            return str(k), str(v)
        except (ValueError, TypeError):
            return None
    return None


def _project_of(text: str) -> str:
    return kcrn_text.split(text)[1]


def _attach(view: View, key: str, value: str, kcrns: list[str]) -> tuple[list[str], list[str]]:
    """Attach key=value to the resources, per project (a tag belongs to one project): create
    the tag there, or use the project's existing tag of that pair."""
    ops: list[str] = []
    errors: list[str] = []
    by_project: dict[str, list[str]] = defaultdict(list)
    for text in kcrns:
        by_project[_project_of(text)].append(text)
    flt = f"tag.type=custom&tag.key={escape(key)}&tag.value={escape(value)}"
    existing = {
        t["project_id"]: t["tag_id"]
        for t in view.explorer(
            "POST", TAG_SEARCH, {"filter": {"filter_string": flt}, "limit": MAX_LIMIT}
        )["tags"]
    }
    for project_id, members in sorted(by_project.items()):
        try:
            tag_id = existing.get(project_id)
            if tag_id is None:
                body: dict[str, Any] = {"tags": [{"key": key, "value": value}]}
                if project_id:
                    body["project_id"] = project_id
                created = view.explorer("POST", "/api/v1/tags", body)
                ops.append(created["operation_id"])
                tag_id = created["tags"][0]["tag_id"]
            ops.append(_patch(view, members, connect=[tag_id]))
        except SkyatlasError as exc:
            errors.append(error_text(exc))
    return ops, errors


def _patch(
    view: View,
    kcrns: list[str],
    *,
    connect: tuple[str, ...] | list[str] = (),
    disconnect: tuple[str, ...] | list[str] = (),
) -> str:
    answer = view.explorer(
        "PATCH",
        "/api/v1/tags",
        {"kcrns": kcrns, "connect_tag_ids": list(connect), "disconnect_tag_ids": list(disconnect)},
    )
    return str(answer["operation_id"])


def _detach(view: View, key: str, value: str, kcrns: list[str]) -> tuple[list[str], list[str]]:
    """Detach key=value from the selected resources that carry it: each carries its own
    project's tag, so one change per tag."""
    by_tag: dict[str, list[str]] = defaultdict(list)
    for row in fetch_rows(view, kcrns):
        for tag in row["tags"]:
            if tag["type"] == "custom" and tag["key"] == key and tag["value"] == value:
                by_tag[tag["tag_id"]].append(row["kcrn"])
    if not by_tag:
        return [], [f"None of the selected resources carries the custom tag {key}={value}."]
    ops, errors = [], []
    for tag_id, members in sorted(by_tag.items()):
        try:
            ops.append(_patch(view, members, disconnect=[tag_id]))
        except SkyatlasError as exc:
            errors.append(error_text(exc))
    return ops, errors


@pages.post("/explorer/tags")
def change_tags(view: View) -> Response:
    """Attach or detach one tag on the selected rows (the form's `kcrn` checkboxes)."""
    kcrns = [str(k) for k in view.form.getlist("kcrn")]
    action = view.arg("action")
    if not kcrns:
        return _status(view, errors=["Select at least one resource first."])
    pair = _chosen_pair(view)
    if pair is None:
        hint = (
            "pick an existing tag, or type a new tag's key (and value)"
            if action == "attach"
            else "pick it in the Existing tag list"
        )
        return _status(view, errors=[f"Choose the tag first: {hint}."])
    key, value = pair
    try:
        for text in kcrns:
            kcrn_text.split(text)
    except InvalidParameter as exc:
        return _status(view, errors=[error_text(exc)])
    if action == "detach":
        ops, errors = _detach(view, key, value, kcrns)
        what = f"Detaching {key}={value} from {_resources(len(kcrns))}"
    else:
        ops, errors = _attach(view, key, value, kcrns)
        what = f"Attaching {key}={value} to {_resources(len(kcrns))}"
    return _progress(
        view, ops=ops, errors=errors, what=what, refresh="rows", kcrns=kcrns, pair=pair
    )


def _resources(n: int) -> str:
    return f"{n} resource" + ("" if n == 1 else "s")


def _status(view: View, *, errors: list[str]) -> Response:
    """An answer that started nothing: what to fix."""
    return _progress(view, ops=[], errors=errors, what="", refresh="")


def _progress(
    view: View,
    *,
    ops: list[str],
    errors: list[str],
    what: str,
    refresh: str,
    kcrns: list[str] | None = None,
    pair: tuple[str, str] | None = None,
    query: str = "",
) -> Response:
    """The status box of tag operations: polling while any is pending, then the outcome and
    the refreshed rows (or tags table) swapped in out of band."""
    carried = list(errors)  # refused when accepted: kept through the polls
    states: list[str] = []
    for op in ops:
        try:
            answer = view.explorer("GET", OPERATION, operation_id=op)
        except SkyatlasError as exc:
            errors = [*errors, error_text(exc)]
            states.append("FAILED")
            continue
        operation = answer["operation"]
        states.append(operation["state"])
        if operation["state"] == "FAILED":
            errors = [*errors, f"Operation {op} failed: {operation.get('error') or 'no reason'}"]
    done = sum(s in ("SUCCEEDED", "FAILED") for s in states)
    final = done == len(ops)
    context: dict[str, Any] = {
        "ops": ops,
        "done": done,
        "errors": errors,
        "carried": carried,
        "final": final,
        "what": what,
        "refresh": refresh,
        "kcrns": list(kcrns or []),
        "pair": pair,
        "query": query,
        "rows": [],
        "tags_context": None,
    }
    if final and ops:
        if refresh == "rows":
            context["rows"] = fetch_rows(view, list(kcrns or []))
            context["projects"] = project_names(view)
            context["pairs"] = custom_pairs(view)
            context["pair_value"] = pair_value
        elif refresh == "tags":
            tag_search = read_tag_search_from(query)
            context["tags_context"] = _tags_context(view, tag_search)
    return view.render("explorer/_progress.html", **context)


@pages.post("/explorer/operations")
def operations(view: View) -> Response:
    pair = None
    if view.form.get("pair_key") is not None:
        pair = (str(view.form.get("pair_key")), str(view.form.get("pair_value") or ""))
    return _progress(
        view,
        ops=[str(o) for o in view.form.getlist("op")],
        errors=[str(e) for e in view.form.getlist("error")],
        what=view.arg("what"),
        refresh=view.arg("refresh"),
        kcrns=[str(k) for k in view.form.getlist("kcrn")],
        pair=pair,
        query=view.arg("query"),
    )


# -- tags ----------------------------------------------------------------------------------------


#: Which tags the Tags page lists. Custom tags first: they are what the page manages, and
#: listing system tags groups every provider tag of the store (seconds at a million resources).
TAG_KINDS = {"custom": "Custom", "system": "System (provider tags)", "all": "All"}


@dataclass
class TagSearch:
    filter_string: str = ""
    use: str = ""
    kind: str = "custom"
    sort: str = ""
    start: int = 1
    limit: int = DEFAULT_LIMIT

    def params(self, **changes: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "filter_string": self.filter_string,
            "use": self.use,
            "kind": self.kind if self.kind != "custom" else None,
            "sort": self.sort,
            "start": self.start if self.start > 1 else None,
            "limit": self.limit if self.limit != DEFAULT_LIMIT else None,
        }
        values.update(changes)
        return values

    def body(self) -> dict[str, Any]:
        parts = [self.filter_string] if self.filter_string else []
        if self.use in ("in_use", "not_in_use"):
            parts.append(f"tag:{self.use}")
        if self.kind in ("custom", "system"):
            parts.append(f"tag.type={self.kind}")
        body: dict[str, Any] = {"offset": self.start - 1, "limit": self.limit}
        if parts:
            body["filter"] = {"filter_string": "&".join(parts)}
        sort = _api_sort(self.sort)
        if sort:
            body["sort"] = sort
        return body


def _kind(value: str) -> str:
    return value if value in TAG_KINDS else "custom"


def read_tag_search(view: View) -> TagSearch:
    start, limit = _page(view)
    return TagSearch(
        filter_string=view.query.get("filter_string", ""),
        use=view.arg("use"),
        kind=_kind(view.arg("kind")),
        sort=view.arg("sort"),
        start=start,
        limit=limit,
    )


def read_tag_search_from(query: str) -> TagSearch:
    """The tags view a status box was started from (its query string)."""
    q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}

    def number(name: str, default: int, high: int) -> int:
        try:
            return max(1, min(high, int(q.get(name, default))))
        except ValueError:
            return default

    return TagSearch(
        filter_string=q.get("filter_string", ""),
        use=q.get("use", ""),
        kind=_kind(q.get("kind", "")),
        sort=q.get("sort", ""),
        start=number("start", 1, 10_000_000),
        limit=number("limit", DEFAULT_LIMIT, MAX_LIMIT),
    )


def _tags_context(view: View, search: TagSearch) -> dict[str, Any]:
    try:
        answer = view.explorer("POST", TAG_SEARCH, search.body())
        tags, total, error = answer["tags"], answer["total_count"], None
    except SkyatlasError as exc:
        if exc.status >= 500:
            raise
        tags, total, error = [], 0, error_text(exc)
    return {
        "tsearch": search,
        "tags": tags,
        "total": total,
        "error": error,
        "columns": TAG_COLUMNS,
        "kinds": TAG_KINDS,
        "page_sizes": PAGE_SIZES,
        "pager_url": view.url(TAGS, **search.params(start=None, limit=None)),
        "sort_url": view.url(TAGS, **search.params(start=None, sort=None)),
        "size_url": view.url(TAGS, **search.params(start=None, limit=None)),
        "self_url": view.url(TAGS, **search.params()),
        "query": urlencode({k: v for k, v in search.params().items() if v not in (None, "")}),
        "explorer_filter": lambda t: f"tag.key={escape(t['key'])}&tag.value={escape(t['value'])}",
    }


@pages.get("/tags")
def tags(view: View) -> Response:
    search = read_tag_search(view)
    context = _tags_context(view, search)
    if view.wants_fragment("tags-results"):
        view.response_headers["HX-Push-Url"] = context["self_url"]
        return view.render("explorer/_tags_results.html", standalone=True, **context)
    return view.render(
        "explorer/tags.html",
        standalone=False,
        grammar=grammar_help(TAG_GRAMMAR),
        words=sorted(TAG_GRAMMAR.words),
        projects=project_names(view),
        **context,
    )


@pages.post("/tags/create")
def create_tag(view: View) -> Response:
    key = str(view.form.get("key") or "")
    value = str(view.form.get("value") or "")
    project_id = view.arg("project_id")
    body: dict[str, Any] = {"tags": [{"key": key, "value": value}]}
    if project_id:
        body["project_id"] = project_id
    try:
        answer = view.explorer("POST", "/api/v1/tags", body)
    except SkyatlasError as exc:
        if exc.status >= 500:
            raise
        return _status(view, errors=[error_text(exc)])
    return _progress(
        view,
        ops=[answer["operation_id"]],
        errors=[],
        what=f"Creating {key}={value}",
        refresh="tags",
        query=view.arg("query"),
    )


@pages.post("/tags/delete")
def delete_tags(view: View) -> Response:
    tag_ids = [str(t) for t in view.form.getlist("tag_id")]
    if not tag_ids:
        return _status(view, errors=["Select the custom tags to delete first."])
    try:
        answer = view.explorer("POST", "/console/api/v1/tags/delete", {"tag_ids": tag_ids})
    except SkyatlasError as exc:
        if exc.status >= 500:
            raise
        return _status(view, errors=[error_text(exc)])
    n = len(tag_ids)
    return _progress(
        view,
        ops=[answer["operation_id"]],
        errors=[],
        what=f"Deleting {n} tag" + ("" if n == 1 else "s"),
        refresh="tags",
        query=view.arg("query"),
    )
