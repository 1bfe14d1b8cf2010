"""The two ways a search page is read — sorting every match, or walking the KCRN index and
probing the tag set — give the same page: the choice is the planner's business, not the user's."""

from __future__ import annotations

import pytest

from skyatlas.explorer import search as search_module

QUERIES = [
    "tag.key=env&tag.value=prod",
    "tag.key=env",
    "-tag.key=env",
    "tag:all",
    "tag:none",
    "tag.value=prod&service=EC2",
    # Name patterns: the trigram index drives a sorted page, a walked page tests each row.
    "resource_name=*r-1*",
    "resource_name=*-2*&tag.key=env",
    "resource_name=*1",
]


def _create(env, i: int) -> None:
    tags = {"env": ["prod", "dev"][i % 2]} if i % 3 else {}
    if i % 5 == 0:
        tags["team"] = "prod"
    body = {
        "provider": "aws",
        "cloud_service_group": ["EC2", "EC2 Classic", "S3"][i % 3],
        "cloud_service_type": "Instance",
        "name": f"r-{i:02d}",
        "region_code": [None, "eu-central-1", "us-east-1"][i % 3],
        "reference": {"resource_id": f"id-{(i * 7) % 31:02d}"},
        "data": {},
        "tags": tags,
        "workspace_id": env.workspace_id,
    }
    env.ok("/inventory/cloud-service/create", body)


def _pages(env, query: str, limit: int) -> list[tuple[int, list[str]]]:
    out = []
    for offset in range(0, 40, limit):
        r = env.call(
            "/api/v1/resources/search",
            {"filter": {"filter_string": query}, "offset": offset, "limit": limit},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        out.append((body["total_count"], [x["kcrn"] for x in body["resources"]]))
    return out


@pytest.mark.parametrize("limit", [1, 7])
def test_walked_and_sorted_pages_agree(env, monkeypatch, limit) -> None:
    for i in range(30):
        _create(env, i)
    totals = []
    for query in QUERIES:
        monkeypatch.setattr(search_module, "WALK_THRESHOLD", 10**9)
        sorted_pages = _pages(env, query, limit)
        monkeypatch.setattr(search_module, "WALK_THRESHOLD", 0)
        walked_pages = _pages(env, query, limit)
        assert walked_pages == sorted_pages, query
        # A walk testing each row's own tags (what a broad tag's early pages get on SQLite).
        monkeypatch.setattr(search_module, "PER_ROW_MATCHES", 0)
        monkeypatch.setattr(search_module, "PER_ROW_DEPTH", 0)
        assert _pages(env, query, limit) == sorted_pages, query
        monkeypatch.setattr(search_module, "PER_ROW_MATCHES", 10**9)
        kcrns = [k for _, page in sorted_pages for k in page]
        assert kcrns == sorted(kcrns), query  # KCRN order, as a string
        totals.append(sorted_pages[0][0])
    assert max(totals) > 7 and min(totals) > 0  # several pages, and no query empty


KCRN_GLOBS = [
    "kcrn:*:*:*:*:*",
    "kcrn:eu-*:*:EC2 Classic:Instance:id-0*",
    "kcrn:*:*:EC2*:*:*",
    "kcrn:*-1:*:*:Instance*:id-1*",
    "kcrn:*:*:S3:*:id-2*",
    "kcrn:*:*:EC2 Classic:*:id-*8",  # an id glob the span's range alone does not decide
    "kcrn:*:*:EC2*:*spot:*",  # two combinations spelled as the same prefix
    "kcrn:*:*:EC2:*:*",  # one prefix starting another, their resources interleaved
    "kcrn:*:*:EC2:Instance*:spot:i*",  # `...:Instance:spot:i-1` is in the range of `spot:i`
]


def _kcrn_pages(env, pattern: str, limit: int, sort: str | None) -> list[tuple[int, list[str]]]:
    out = []
    for offset in range(0, 48, limit):
        body = {"filter": {"filter_kcrn": pattern}, "offset": offset, "limit": limit}
        if sort:
            body["sort"] = sort
        r = env.call("/api/v1/resources/search", body)
        assert r.status_code == 200, r.text
        data = r.json()
        out.append((data["total_count"], [x["kcrn"] for x in data["resources"]]))
    return out


@pytest.mark.parametrize("limit", [1, 7])
def test_a_kcrn_glob_read_span_by_span_pages_like_one_range(env, monkeypatch, limit) -> None:
    """On SQLite a glob with wildcards in its leading segments is read as the exact prefixes
    of the combinations the kept counts know; pages and totals are those of the one range."""
    for i in range(30):
        _create(env, i)
    # Segments holding `:`. The last two KCRNs start with the first one's `...:EC2:Instance:`,
    # and both start `kcrn:eu-central-1::EC2:Instance:spot:`.
    for group, type_, rid in (
        ("EC2", "Instance", "spot:i-9"),
        ("EC2", "Instance:spot", "i-1"),
        ("EC2:Instance", "spot", "i-8"),
    ):
        body = {
            "provider": "aws",
            "cloud_service_group": group,
            "cloud_service_type": type_,
            "region_code": "eu-central-1",
            "reference": {"resource_id": rid},
            "data": {},
            "workspace_id": env.workspace_id,
        }
        env.ok("/inventory/cloud-service/create", body)
    used = []
    real = search_module.kcrn_spans.spans

    def spy(*args, **kw):
        found = real(*args, **kw)
        used.append(found is not None)
        return found

    totals = []
    for pattern in KCRN_GLOBS:
        for sort in (None, "-resource_name"):
            monkeypatch.setattr(search_module.kcrn_spans, "spans", lambda *a, **k: None)
            one_range = _kcrn_pages(env, pattern, limit, sort)
            monkeypatch.setattr(search_module.kcrn_spans, "spans", spy)
            assert _kcrn_pages(env, pattern, limit, sort) == one_range, (pattern, sort)
            if sort is None:
                kcrns = [k for _, page in one_range for k in page]
                assert kcrns == sorted(kcrns), pattern
            totals.append(one_range[0][0])
    assert totals[0] == 33 and min(totals) > 0
    assert any(used) is (env.backend == "sqlite")
