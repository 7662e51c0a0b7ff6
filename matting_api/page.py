"""The web page of the matting service: ``/``, its static files and background thumbnails.

The page (``web/index.html``, ``web/style.css``, ``web/app.js``) is plain HTML, CSS and JavaScript
that calls ``POST /matte`` and ``GET /backgrounds`` on the same service; it loads nothing from
anywhere else, and its Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np
from flask import Blueprint, Response, current_app
from flask.blueprints import BlueprintSetupState

from background_replacement.compositing import cover
from background_replacement.images import ALPHA_FORMATS, IMAGE_SUFFIXES
from background_replacement.service_common.errors import ApiError
from background_replacement.service_common.uploads import INPUT_FORMATS_TEXT, encode_image

THUMBNAIL_SIZE = (160, 90)  # width, height: the backgrounds are 16:9
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

bp = Blueprint("web", __name__, static_folder="web", static_url_path="/web")


def thumbnail_jpeg(image_rgb: np.ndarray, size: tuple[int, int] = THUMBNAIL_SIZE) -> bytes:
    """A JPEG of ``image_rgb`` (RGB uint8 H×W×3) scaled to cover ``size`` (width, height) and
    centre-cropped, never stretched."""
    width, height = size
    return encode_image(cover(image_rgb, height, width), "jpeg", quality=85)


def thumbnails(library: Mapping[str, np.ndarray]) -> dict[str, bytes]:
    """The encoded thumbnail of every named background, by name."""
    return {name: thumbnail_jpeg(image) for name, image in library.items()}


@bp.record_once
def _encode_thumbnails(state: BlueprintSetupState) -> None:
    """Encode the thumbnails once, when the blueprint is registered (after the backgrounds)."""
    library = state.app.extensions.get("backgrounds")
    if library is None:
        raise RuntimeError("register the web blueprint after the backgrounds are loaded")
    state.app.extensions["background_thumbnails"] = thumbnails(library)


@cache
def page_html() -> str:
    """``web/index.html`` with the formats filled in where it marks them: the input formats'
    names, every file picker's ``accept`` (``image/*`` and the suffixes, for HEIC files that a
    system does not call image/*), and the output formats that keep an alpha channel (the
    transparent rule's, ``images.ALPHA_FORMATS``)."""
    accept = ",".join(["image/*", *sorted(IMAGE_SUFFIXES)])
    html = (Path(__file__).parent / "web" / "index.html").read_text(encoding="utf-8")
    return html.replace("<!-- input formats -->", INPUT_FORMATS_TEXT) \
        .replace('accept="image/*"', f'accept="{accept}"') \
        .replace('data-alpha-formats=""', f'data-alpha-formats="{" ".join(ALPHA_FORMATS)}"')


@bp.get("/")
def index() -> Response:
    """The page."""
    return Response(page_html(), mimetype="text/html")


@bp.get("/favicon.ico")
def favicon() -> Response:
    """The page's icon (SVG) where a browser or /docs looks for it without being told."""
    response = bp.send_static_file("favicon.svg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.after_request
def _page_headers(response: Response) -> Response:
    """The page's headers on every HTML answer of this blueprint (``/`` and
    ``/web/index.html`` alike)."""
    if response.mimetype == "text/html":
        response.headers.update(_PAGE_HEADERS)
    return response


@bp.get("/backgrounds/<name>.jpg")
def background_thumbnail(name: str) -> Response:
    """A small JPEG of the named background; the name is looked up, never used as a path."""
    encoded = current_app.extensions["background_thumbnails"].get(name)
    if encoded is None:
        raise ApiError(404, "unknown_background", f"There is no background named {name[:60]!r}.")
    response = Response(encoded, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
