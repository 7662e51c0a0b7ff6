"""HTTP shell of ``POST /v1.0/removebg``: parse, call ``remove_background``, encode.

Runs under the app's upload limits, API keys and in-flight bound like ``/matte``; every error
is answered in remove.bg's shape, ``{"errors": [{"title", "code"}]}``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from background_replacement.matting_api.removebg.geometry import capped_size
from background_replacement.matting_api.removebg.options import (
    DETECTED_TYPE,
    RemoveBgOptions,
    parse_options,
)
from background_replacement.matting_api.removebg.render import (
    RemoveBgJob,
    RemoveBgResult,
    encode_result,
    remove_background,
    shrink_upload,
)
from background_replacement.service_common.errors import ApiError, register_error_body
from background_replacement.service_common.http import decode_upload
from background_replacement.service_common.settings import ServiceSettings
from background_replacement.service_common.uploads import encode_image
from background_replacement.timing import StageTimer

bp = Blueprint("removebg", __name__, url_prefix="/v1.0")

CREDITS_CHARGED = "0"  # nothing is charged on your own server
# The service's own error codes that remove.bg names otherwise, and its status for each.
REMOVEBG_CODES = {
    "too_large": "file_too_large", "too_many_pixels": "resolution_too_high",
    "image_side_too_large": "resolution_too_high", "not_an_image": "invalid_file_type",
    "corrupt_image": "failed_to_read_image", "empty_upload": "failed_to_read_image",
    "no_person": "unknown_foreground"}
# remove.bg answers every problem with the input as 400.
INPUT_STATUSES = (413, 415, 422)


def removebg_error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    """An error in remove.bg's shape and with its status."""
    status = 400 if status in INPUT_STATUSES else status
    return status, {"errors": [{"title": message, "code": REMOVEBG_CODES.get(code, code)}]}


register_error_body(bp, removebg_error)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _fields() -> Mapping[str, str]:
    """The request's parameters from multipart, urlencoded or JSON bodies."""
    settings: ServiceSettings = current_app.extensions["settings"]
    mimetype = request.mimetype or ""
    if mimetype == "application/json":
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            body = None  # nested deeper than Python recurses
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "The body is not a JSON object.")
        return {str(k): _text(v) for k, v in body.items() if v is not None}
    if mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # Room for a base64 image in a multipart text field (4/3 of the bytes).
        request.max_form_memory_size = 2 * settings.max_upload_bytes + 1024 * 1024
        return request.form
    raise ApiError(400, "unsupported_content_type", "Send multipart/form-data, "
                   "application/x-www-form-urlencoded or application/json.")


def _upload(name: str) -> bytes | None:
    upload = request.files.get(name) if request.mimetype == "multipart/form-data" else None
    return None if upload is None else upload.read()


def _image_bytes(fields: Mapping[str, str]) -> bytes:
    upload = _upload("image_file")
    encoded = (fields.get("image_file_b64") or "").strip()
    if upload is not None and encoded:
        raise ApiError(400, "multiple_sources", "Send either image_file or image_file_b64.")
    if upload is not None:
        return upload
    if "image_file" in fields:
        raise ApiError(400, "missing_source", "'image_file' must be a file upload; send "
                       "text as image_file_b64.")
    if not encoded:
        raise ApiError(400, "missing_source", "No image given: send image_file (multipart) "
                       "or image_file_b64.")
    try:
        encoded = encoded.partition("base64,")[2] or encoded
        # Many clients wrap base64 at 76 columns (MIME): line breaks and spaces are not data.
        return base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "failed_to_read_image", "image_file_b64 is not valid base64.") \
            from None


def _parse_job() -> RemoveBgJob:
    fields = _fields()
    options: RemoveBgOptions = parse_options(fields)
    background_bytes = _upload("bg_image_file")
    if background_bytes is not None and options.bg_color is not None:
        raise ApiError(400, "multiple_bg_sources", "Send either bg_color or bg_image_file.")
    image_bytes = _image_bytes(fields)
    upload = decode_upload(image_bytes, "image_file")
    height, width = upload.rgb.shape[:2]
    max_pixels = None if options.max_megapixels is None else options.max_megapixels * 1e6
    image = shrink_upload(upload, *capped_size(width, height, max_pixels))
    background = None if background_bytes is None else decode_upload(background_bytes,
                                                                "bg_image_file").rgb
    # The segmentation service gets what it is to segment: the shrunk picture, re-encoded.
    sent = image_bytes if image is upload else encode_image(image.rgb, "png")
    return RemoveBgJob(image_bytes=sent, image=image,
                       upload_size=(width, height), options=options,
                       max_pixels=current_app.extensions["settings"].max_image_pixels,
                       background_rgb=background)


def _headers(result: RemoveBgResult, options: RemoveBgOptions) -> dict[str, str]:
    height, width = result.rgba.shape[:2]
    box = result.foreground
    headers = {"X-Width": str(width), "X-Height": str(height),
               "X-Credits-Charged": CREDITS_CHARGED,
               "X-Foreground-Top": str(box.top), "X-Foreground-Left": str(box.left),
               "X-Foreground-Width": str(box.width), "X-Foreground-Height": str(box.height)}
    if options.type_level != "none":
        headers["X-Type"] = DETECTED_TYPE
    return headers


@bp.post("/removebg")
def removebg() -> Response:
    """remove.bg's background removal (see README for what is honoured)."""
    timer = StageTimer()
    with timer.stage("decode"):
        job = _parse_job()
    result = remove_background(job, current_app.extensions["matter"],
                               current_app.extensions["segmentation"], timer)
    with timer.stage("encode"):
        body, mimetype = encode_result(result, job.options)
    headers = {**result.info, **_headers(result, job.options)}
    if request.accept_mimetypes.best == "application/json":
        box = result.foreground
        response = jsonify(data={
            "result_b64": base64.b64encode(body).decode("ascii"),
            "foreground_top": box.top, "foreground_left": box.left,
            "foreground_width": box.width, "foreground_height": box.height})
    else:
        response = Response(body, mimetype=mimetype)
    response.headers.update(headers)
    response.headers["Server-Timing"] = timer.header()
    return response


@bp.get("/account")
def account() -> Response:
    """remove.bg's account call, for clients that read it first: nothing is ever charged."""
    return jsonify(data={"attributes": {
        "credits": {"total": 0, "subscription": 0, "payg": 0, "enterprise": 0},
        "api": {"free_calls": 0, "sizes": "all"}}})
