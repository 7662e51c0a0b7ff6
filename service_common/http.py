"""Small request and response helpers shared by both services' ``app.py``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from background_replacement.service_common.api_keys import load_keys, require_api_keys
from background_replacement.service_common.errors import (
    ApiError,
    error_response,
    register_error_handlers,
)
from background_replacement.service_common.memory import limit_malloc_arenas, release_free_memory
from background_replacement.service_common.pixel_budget import (
    PixelBudget,
    charge_pixels,
    release_pixels,
)
from background_replacement.service_common.settings import ServiceSettings, load_service_settings
from background_replacement.service_common.uploads import DecodedImage, decode_image
from background_replacement.settings import Settings

# Room for the form fields beside the largest accepted upload(s).
_MULTIPART_SLACK = 1024 * 1024
# On every answer of both services (and of the front's own error answers).
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def new_service(import_name: str, overrides: Mapping[str, Any] | None, *, uploads: int = 1,
                keyed_by_segmentation_key: bool = False,
                ) -> tuple[Flask, Settings, ServiceSettings]:
    """A service's Flask app with what every service needs (``configure_app``), logging and the
    allocator set up, and its two settings: the pipeline's and the HTTP edge's, from the
    environment and ``overrides``. ``keyed_by_segmentation_key``: ``SEGMENTATION_API_KEY`` is
    one of its keys (the segmentation service: one variable sets both ends)."""
    settings, service = load_service_settings(overrides)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    limit_malloc_arenas()
    app = Flask(import_name, static_folder=None)  # no /static/ route: nothing is there
    own_key = service.segmentation_api_key if keyed_by_segmentation_key else ""
    configure_app(app, service, uploads=uploads, own_key=own_key)
    return app, settings, service


def configure_app(app: Flask, settings: ServiceSettings, uploads: int = 1,
                  own_key: str = "") -> None:
    """Apply what every service needs: settings, body limit, JSON errors, API keys (those
    configured, and ``own_key`` beside them when given)."""
    app.extensions["settings"] = settings
    app.config["MAX_CONTENT_LENGTH"] = uploads * settings.max_upload_bytes + _MULTIPART_SLACK
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024  # text fields; above the parser chunk
    app.config["MAX_FORM_PARTS"] = 64
    register_error_handlers(app)

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.after_request
    def _read_refused_body(response):
        """Read what is left of the body of a refused request (a wrong key, no free slot, a
        parameter checked before the upload): gunicorn closes a connection whose body was not
        read, which the front would answer as 502 instead of this answer. Behind the front
        the body has already arrived; its size is bounded by the body limit."""
        if response.status_code >= 400:
            with suppress(HTTPException, OSError):
                while request.stream.read(1 << 16):
                    pass
        return response

    # Before the in-flight limit: a request without a valid key never takes a slot.
    keys = load_keys(settings.api_keys, settings.api_keys_file)
    require_api_keys(app, keys | {own_key} if own_key else keys)
    app.extensions["pixel_budget"] = PixelBudget(settings.max_pixels_in_flight)
    limit_in_flight(app, settings.max_in_flight, settings.retry_after, settings.queue_timeout)


def takes_slot(view: Callable) -> Callable:
    """Mark a GET view that works like an upload (draws a picture): it takes an in-flight slot
    and its pixels are charged like an upload's."""
    view.takes_slot = True  # type: ignore[attr-defined]
    return view


def _needs_slot() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return request.method == "POST" or getattr(view, "takes_slot", False)


def add_common_routes(bp: Blueprint, openapi_document: Callable[[], dict]) -> None:
    """``GET /openapi.json`` and ``GET /healthz`` (the process is alive) on a service's
    blueprint."""

    @bp.get("/openapi.json")
    def openapi():
        """The OpenAPI description of this service."""
        return jsonify(openapi_document())

    @bp.get("/healthz")
    def healthz():
        """The process is alive, and how many POSTs it works on at once (``MAX_IN_FLIGHT``;
        clients size their parallel requests by it)."""
        return jsonify(status="ok",
                       max_in_flight=current_app.extensions["settings"].max_in_flight)


def limit_in_flight(app: Flask, limit: int, retry_after: int, queue_timeout: float) -> None:
    """Work on at most ``limit`` POSTs (and ``takes_slot`` GETs) at once in this process. A
    POST that finds them all busy waits up to ``queue_timeout`` seconds for one to finish, then
    gets 503 with ``Retry-After``; at most ``limit - 1`` wait, and the others are answered at
    once, so a gunicorn thread (of 2 × ``limit``) is always free for refusals and health
    checks. Health and readiness checks are never refused. When the last POST in flight ends,
    the memory malloc freed is given back to the system, so a burst of large photos does not
    leave the process at its peak."""
    slots = threading.BoundedSemaphore(limit)
    busy = waiting = 0  # POSTs holding a slot; POSTs waiting for one
    lock = threading.Lock()

    def _acquire() -> bool:
        nonlocal waiting
        if slots.acquire(blocking=False):
            return True
        with lock:
            may_wait = queue_timeout > 0 and waiting < limit - 1
            waiting += may_wait
        if not may_wait:
            return False
        try:
            return slots.acquire(timeout=queue_timeout)
        finally:
            with lock:
                waiting -= 1

    @app.before_request
    def _take_slot():
        nonlocal busy
        if not _needs_slot():
            return None
        if not _acquire():
            return error_response(503, "overloaded",
                                  f"The service is busy with {limit} requests; retry in "
                                  f"{retry_after} s.", {"Retry-After": str(retry_after)})
        g.holds_slot = True
        with lock:
            busy += 1
        return None

    @app.teardown_request
    def _give_slot(_exc):
        nonlocal busy
        release_pixels()
        if g.pop("holds_slot", False):
            with lock:
                busy -= 1
                idle = busy == 0
            slots.release()
            if idle:
                release_free_memory()


def decode_upload(data: bytes, field: str = "image") -> DecodedImage:
    """``decode_image`` under this service's upload limits (bytes and pixels)."""
    settings = current_app.extensions["settings"]
    return decode_image(data, max_bytes=settings.max_upload_bytes,
                        max_pixels=settings.max_image_pixels, field=field,
                        charge=lambda pixels: charge_pixels(pixels, f"'{field}' image"))


def read_upload(name: str, *, required: bool = True) -> bytes | None:
    """The bytes of multipart file field ``name``; 400 if it is required and absent. An empty
    optional field is absent: an empty text field, or an empty file part without a file name
    (what Swagger UI's "Try it out" and HTML forms send for a file not chosen)."""
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise ApiError(400, "not_multipart",
                       f"Send the image as multipart/form-data with a file field '{name}'.")
    upload = request.files.get(name)
    if upload is not None and not required and not upload.filename:
        data = upload.read()
        return data or None
    if upload is None:
        if request.form.get(name, "") != "" or (required and name in request.form):
            raise ApiError(400, "bad_field",
                           f"'{name}' must be sent as a file upload, not as a text field.")
        if required:
            raise ApiError(400, "missing_field",
                           f"The request has no readable '{name}' file field (a part whose "
                           "headers are not valid UTF-8 is skipped).")
        return None
    return upload.read()
