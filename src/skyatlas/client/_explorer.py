"""`client.explorer`: the Resource Explorer dialect (KCRN and filter_string search, custom tags).

Tag changes are asynchronous on the server: create, delete and attach answer 202 with an
`operation_id`; `wait` polls the operation until it has applied or failed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from skyatlas.client._errors import APIError

if TYPE_CHECKING:
    from skyatlas.client._client import Client

__all__ = ["MAX_SEARCH_LIMIT", "Explorer"]

#: The largest page the search endpoints accept.
MAX_SEARCH_LIMIT = 500


def _search_body(
    filter_string: str | None,
    filter_kcrn: str | None,
    sort: str | None,
    offset: int,
    limit: int,
) -> dict[str, Any]:
    flt: dict[str, str] = {}
    if filter_string:
        flt["filter_string"] = filter_string
    if filter_kcrn:
        flt["filter_kcrn"] = filter_kcrn
    body: dict[str, Any] = {"offset": offset, "limit": limit}
    if flt:
        body["filter"] = flt
    if sort:
        body["sort"] = sort
    return body


class Explorer:
    """The Resource Explorer calls of one `Client` (same endpoint, same token)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    # -- resources ------------------------------------------------------------------------------

    def search(
        self,
        filter_string: str | None = None,
        *,
        kcrn: str | None = None,
        sort: str | None = None,
        offset: int = 0,
        limit: int = MAX_SEARCH_LIMIT,
    ) -> dict[str, Any]:
        """One page of `POST /api/v1/resources/search` (`resources`, `count`, `total_count`)."""
        body = _search_body(filter_string, kcrn, sort, offset, limit)
        return self._client.request("POST", "/api/v1/resources/search", json=body, idempotent=True)

    def iter_resources(
        self,
        filter_string: str | None = None,
        *,
        kcrn: str | None = None,
        sort: str | None = None,
        page_size: int = MAX_SEARCH_LIMIT,
    ) -> Iterator[dict[str, Any]]:
        """Every matching resource, a page at a time."""
        yield from self._iterate(
            "/api/v1/resources/search", "resources", filter_string, kcrn, sort, page_size
        )

    # -- tags -----------------------------------------------------------------------------------

    def search_tags(
        self,
        filter_string: str | None = None,
        *,
        sort: str | None = None,
        offset: int = 0,
        limit: int = MAX_SEARCH_LIMIT,
    ) -> dict[str, Any]:
        """One page of `POST /api/v1/tags/search` (`tags` with `resource_count`)."""
        body = _search_body(filter_string, None, sort, offset, limit)
        return self._client.request("POST", "/api/v1/tags/search", json=body, idempotent=True)

    def iter_tags(
        self,
        filter_string: str | None = None,
        *,
        sort: str | None = None,
        page_size: int = MAX_SEARCH_LIMIT,
    ) -> Iterator[dict[str, Any]]:
        """Every matching tag, a page at a time."""
        yield from self._iterate(
            "/api/v1/tags/search", "tags", filter_string, None, sort, page_size
        )

    def get_tag(self, tag_id: str) -> dict[str, Any]:
        """One custom tag; `APIError` 404 when it does not exist or is not visible."""
        path = f"/api/v1/tags/search/{quote(tag_id, safe='')}"
        answer = self._client.request("GET", path, idempotent=True)
        return answer["tag"]

    def create_tags(
        self, tags: Iterable[Mapping[str, str]], *, project_id: str | None = None
    ) -> dict[str, Any]:
        """Create up to 100 custom tags; returns `tags` (with their ids) and `operation_id`.

        Domain- and workspace-level tokens name the project the tags belong to; a project-level
        token's own project is used when `project_id` is None.
        """
        body: dict[str, Any] = {
            "tags": [{"key": t["key"], "value": t.get("value", "")} for t in tags]
        }
        if project_id:
            body["project_id"] = project_id
        return self._client.request("POST", "/api/v1/tags", json=body, idempotent=False)

    def delete_tags(self, tag_ids: Sequence[str]) -> dict[str, Any]:
        """Delete up to 100 custom tags (detaching them everywhere); returns `operation_id`."""
        return self._client.request(
            "POST", "/console/api/v1/tags/delete", json={"tag_ids": list(tag_ids)}, idempotent=False
        )

    def attach_tags(
        self,
        kcrns: Sequence[str],
        *,
        connect: Sequence[str] = (),
        disconnect: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Attach and/or detach custom tags on up to 100 resources; returns `operation_id`."""
        body = {
            "kcrns": list(kcrns),
            "connect_tag_ids": list(connect),
            "disconnect_tag_ids": list(disconnect),
        }
        return self._client.request("PATCH", "/api/v1/tags", json=body, idempotent=False)

    # -- operations -----------------------------------------------------------------------------

    def operation(self, operation_id: str) -> dict[str, Any]:
        """The state of an asynchronous tag operation."""
        answer = self._client.request("GET", f"/api/v1/operations/{operation_id}", idempotent=True)
        return answer["operation"]

    def wait(
        self, operation_id: str, *, timeout: float = 60.0, poll: float = 0.1
    ) -> dict[str, Any]:
        """Poll an operation until it is SUCCEEDED or FAILED; `TimeoutError` after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            op = self.operation(operation_id)
            if op.get("state") in ("SUCCEEDED", "FAILED"):
                return op
            if time.monotonic() >= deadline:
                raise TimeoutError(f"operation {operation_id} is still {op.get('state')}")
            time.sleep(poll)

    # -- plumbing -------------------------------------------------------------------------------

    def _iterate(
        self,
        path: str,
        key: str,
        filter_string: str | None,
        kcrn: str | None,
        sort: str | None,
        page_size: int,
    ) -> Iterator[dict[str, Any]]:
        if not 1 <= page_size <= MAX_SEARCH_LIMIT:
            raise ValueError(f"page_size must be within 1..{MAX_SEARCH_LIMIT}")
        offset = 0
        while True:
            body = _search_body(filter_string, kcrn, sort, offset, page_size)
            page = self._client.request("POST", path, json=body, idempotent=True)
            items = page.get(key)
            if not isinstance(items, list):
                raise APIError(200, "ERROR_BAD_ANSWER", f"the answer has no '{key}' list")
            yield from items
            offset += len(items)
            total = page.get("total_count")
            if not items or (isinstance(total, int) and offset >= total):
                return
