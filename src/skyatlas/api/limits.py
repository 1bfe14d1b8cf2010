"""Refuse request bodies over the configured size with 413, before they are read into memory."""

from __future__ import annotations

from typing import Any

import orjson

from skyatlas.api.errors_body import error_body
from skyatlas.errors import PayloadTooLarge


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length up front and counts streamed bytes too."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(send, scope.get("path", ""))
                    return
        received = 0
        max_bytes = self.max_bytes

        async def counting_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, send: Any, path: str) -> None:
        body = orjson.dumps(
            error_body(
                PayloadTooLarge.code,
                f"the request body is larger than {self.max_bytes} bytes",
                path,
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
