"""The error body of each dialect: chosen by the request's path, so every handler (and the body
size limit, which answers before any route) speaks the dialect the caller is using."""

from __future__ import annotations

from typing import Any

#: Paths of the Resource Explorer dialect.
EXPLORER_PREFIXES = ("/api/v1/", "/console/api/v1/")


def is_explorer(path: str) -> bool:
    return path.startswith(EXPLORER_PREFIXES)


def error_body(code: str, message: str, path: str = "") -> dict[str, Any]:
    """`{"detail": {code, message}}` (SpaceONE) or `{"success": false, "error": {…}}` (Explorer)."""
    if is_explorer(path):
        return {"success": False, "error": {"code": code, "message": message}}
    return {"detail": {"code": code, "message": message}}
