"""`Client`: the SpaceONE-dialect verbs of a skyatlas server over HTTP.

Every verb is `POST /{service}/{resource}/{verb}`, so one `call` reaches all of them, including
verbs this client has never heard of. Retries are limited to what cannot do harm: a request that
never left (connection refused) is retried for any verb; a timeout or a 502/503/504 only for read
verbs, because a write may already have been applied.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from skyatlas.client._errors import APIError, ClientError, ConnectionFailed
from skyatlas.client._explorer import Explorer

__all__ = ["READ_VERBS", "Client"]

#: Verbs that change nothing, and may therefore be sent again after a timeout.
READ_VERBS = frozenset({"get", "list", "stat", "analyze"})
_RETRY_STATUS = frozenset({502, 503, 504})


def _version() -> str:
    from skyatlas import __version__

    return __version__


class Client:
    """A connection to one skyatlas server with one token.

    ```python
    with Client("http://127.0.0.1:8000", token) as client:
        regions = client.call("inventory", "region", "list", {})
        for resource in client.paginate("inventory", "cloud-service", "list",
                                        {"query": {"filter": [{"k": "provider", "v": "aws"}]}}):
            ...
    ```
    """

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.retries = max(0, retries)
        self.backoff = backoff
        headers = {"User-Agent": f"skyatlas-client/{_version()}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
            headers["X-Auth-Token"] = token
        self._http = httpx.Client(
            base_url=self.endpoint,
            headers=headers,
            timeout=timeout,
            transport=transport,
            verify=_verify(self.endpoint),
        )
        self.explorer = Explorer(self)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the SpaceONE dialect -------------------------------------------------------------------

    def call(
        self, service: str, resource: str, verb: str, body: Mapping[str, Any] | None = None
    ) -> Any:
        """Send one verb and return its JSON answer; raise `APIError` when the server refuses."""
        return self.request(
            "POST",
            f"/{service}/{resource}/{verb}",
            json=dict(body or {}),
            idempotent=verb in READ_VERBS,
        )

    def iter_pages(
        self,
        service: str,
        resource: str,
        verb: str = "list",
        body: Mapping[str, Any] | None = None,
        *,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every page of a list, one response at a time (constant memory however many records).

        Paging stops at the first empty page or once `total_count` records have come, so a
        server that caps the page size below `page_size` still yields everything.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        body = dict(body or {})
        query = dict(body.get("query") or {})
        start, seen, total = 1, 0, None
        while True:
            query["page"] = {"start": start, "limit": page_size}
            page = self.call(service, resource, verb, {**body, "query": query})
            count = len(page.get("results") or [])
            if total is None and isinstance(page.get("total_count"), int):
                total = page["total_count"]
            if count:
                yield page
            del page  # one page alive at a time, not two, while the next one downloads
            seen += count
            start += count
            if not count or (total is not None and seen >= total):
                return

    def paginate(
        self,
        service: str,
        resource: str,
        verb: str = "list",
        body: Mapping[str, Any] | None = None,
        *,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list, fetched a page at a time."""
        for page in self.iter_pages(service, resource, verb, body, page_size=page_size):
            yield from page["results"]

    def reflection(self) -> dict[str, Any]:
        """`GET /api/reflection`: every service, resource and verb the server has."""
        return self.request("GET", "/api/reflection", idempotent=True)

    def check(self) -> dict[str, Any]:
        """`GET /check`: `{"status": "SERVING"}` when the server is up (no token needed)."""
        return self.request("GET", "/check", idempotent=True)

    # -- plumbing -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotent: bool,
        expect: tuple[int, ...] = (200, 202),
    ) -> Any:
        """One HTTP exchange with the retry policy of the module docstring."""
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, json=json)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure: ClientError = ConnectionFailed(self.endpoint, _reason(exc))
            except httpx.TimeoutException as exc:
                failure = ConnectionFailed(self.endpoint, _reason(exc))
                if not idempotent:
                    raise failure from None
            except httpx.TransportError as exc:
                failure = ConnectionFailed(self.endpoint, _reason(exc))
                if not idempotent:
                    raise failure from None
            else:
                if response.status_code in expect:
                    return _json(response)
                failure = api_error(response)
                if not (idempotent and response.status_code in _RETRY_STATUS):
                    raise failure
            if attempt >= self.retries:
                raise failure
            time.sleep(self.backoff * (2**attempt))
            attempt += 1


def _verify(endpoint: str) -> ssl.SSLContext | bool:
    """Certificates are verified as usual for https. A plain-http endpoint never uses TLS (and
    redirects are not followed), so it gets an empty, still-verifying context instead of loading
    the CA bundle, which costs ~80 ms of every CLI start."""
    if endpoint.lower().startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc).strip()
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({text})" if text else "timed out"
    return text or type(exc).__name__


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise APIError(
            response.status_code, "ERROR_NOT_JSON", f"the answer is not JSON: {_excerpt(response)}"
        ) from None


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:200] + ("…" if len(text) > 200 else "")


def api_error(response: httpx.Response) -> APIError:
    """The error a response carries, in either dialect's shape."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = None
    if isinstance(body, dict):
        error = body.get("detail") if isinstance(body.get("detail"), dict) else body.get("error")
        if error is None and isinstance(body.get("detail"), str):
            error = {"message": body["detail"]}
    if isinstance(error, dict) and error.get("message"):
        code = str(error.get("code") or f"ERROR_HTTP_{response.status_code}")
        return APIError(response.status_code, code, str(error["message"]))
    reason = response.reason_phrase or "error"
    excerpt = _excerpt(response)
    message = f"{reason}: {excerpt}" if excerpt else reason
    return APIError(response.status_code, f"ERROR_HTTP_{response.status_code}", message)
