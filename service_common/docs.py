"""``GET /docs``: a page that shows the service's OpenAPI document (``/openapi.json``) with
Swagger UI, whose files come from the ``swagger-ui-bundle`` package and are served by the
service itself under ``/docs/assets/``. The page loads nothing from anywhere else (its
Content-Security-Policy says so to the browser), so it works offline.
"""

from __future__ import annotations

from flask import Blueprint, Response
from swagger_ui_bundle import swagger_ui_path

# Relative addresses: /docs → docs/assets/… and openapi.json, also behind a path prefix.
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/viewer.js"></script>
</body>
</html>
"""
# validatorUrl null: Swagger UI would otherwise send the document to an online validator.
_VIEWER = """window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, validatorUrl: null});
"""
_HEADERS = {
    # Swagger UI sets inline styles; everything else only from this service.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}

bp = Blueprint("docs", __name__, static_folder=str(swagger_ui_path),
               static_url_path="/docs/assets")


@bp.get("/docs")
def page() -> Response:
    """The viewer page."""
    return Response(_PAGE, mimetype="text/html", headers=_HEADERS)


@bp.get("/docs/viewer.js")
def viewer() -> Response:
    """The script that starts Swagger UI on this service's document."""
    return Response(_VIEWER, mimetype="text/javascript", headers=_HEADERS)
