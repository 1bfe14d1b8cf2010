"""Swagger UI at /docs, served from vendored assets so it works with no internet access."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse

SWAGGER_DIR = Path(__file__).with_name("static") / "swagger"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>skyatlas API</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css">
<link rel="icon" type="image/png" href="/static/swagger/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  validatorUrl: null
});
</script>
</body>
</html>
"""


async def docs_page(_request: object) -> HTMLResponse:
    return HTMLResponse(_PAGE)
