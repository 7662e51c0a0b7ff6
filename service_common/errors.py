"""The JSON error contract both services answer with: ``{"error": {"code", "message"}}``.

A blueprint that speaks another API (remove.bg's) registers its own error body with
``register_error_body``; every error of its routes, also those of the app's hooks (API keys,
in-flight bound), then takes that shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# (status, code, message) → (status, JSON body), by blueprint name.
ErrorBody = Callable[[int, str, str], tuple[int, dict[str, Any]]]
_ERROR_BODIES = "error_bodies"


class ApiError(Exception):
    """An error the client caused or should know about, answered as JSON with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def register_error_body(bp: Blueprint, body: ErrorBody) -> None:
    """Answer every error of ``bp``'s routes with ``body`` instead of the contract's shape."""
    def _register(state) -> None:
        state.app.extensions.setdefault(_ERROR_BODIES, {})[bp.name] = body

    bp.record_once(_register)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    """Build the JSON error response: the contract's, or the one the route's blueprint
    registered."""
    body_of = current_app.extensions.get(_ERROR_BODIES, {}).get(request.blueprint) \
        if has_request_context() else None
    if body_of is None:
        body = {"error": {"code": code, "message": message}}
    else:
        status, body = body_of(status, code, message)
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_")


def _is_malformed_body(exc: Exception) -> bool:
    """Whether reading the body failed on its framing: gunicorn's parser errors (a bad chunk
    size, a missing chunk terminator, a body cut short), checked by module so that the services
    also run without gunicorn."""
    return type(exc).__module__.startswith("gunicorn.http")


def register_error_handlers(app: Flask) -> None:
    """Answer every error, ours, werkzeug's and unexpected ones, as contract JSON."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 413:
            message = "The upload is larger than this service accepts."
            return error_response(413, "too_large", message)
        return error_response(exc.code or 500, _http_code(exc), exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, RecursionError):  # JSON nested deeper than Python recurses
            return error_response(400, "bad_body", "The body is nested too deeply.")
        if _is_malformed_body(exc):
            return error_response(400, "bad_body",
                                  "The request body is malformed (its chunked encoding).")
        log.exception("unhandled error")
        return error_response(500, "internal_error", "The service failed on this request.")
