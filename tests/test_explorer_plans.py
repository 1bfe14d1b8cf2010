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
