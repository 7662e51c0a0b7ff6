"""HTTP shell of the matting service: parse, call the pipeline, encode."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from matting_api.backgrounds import load_library, parse_background
from matting_api.matters import Matter, load_matter
from matting_api.openapi import openapi_document
from matting_api.pipeline import NO_PERSON_CHOICES, OUTPUTS, MatteJob, run_matting
from matting_api.segmentation_client import SegmentationClient
from matting_api.web import bp as web_bp
from service_common.device import configure_threads
from service_common.errors import ApiError
from service_common.http import StageTimer, add_common_routes, configure_app, read_upload
from service_common.images import (
    ENCODE_FORMATS,
    check_encodable,
    decode_image,
    encode_image,
    mimetype,
)
from service_common.memory import limit_malloc_arenas
from service_common.params import TrimapParams
from service_common.settings import Settings

log = logging.getLogger(__name__)
bp = Blueprint("matting", __name__)
add_common_routes(bp, openapi_document)


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (request.form.get(name) or default).strip().lower()
    if value not in allowed:
        raise ApiError(400, "bad_parameter",
                       f"'{name}' must be one of {', '.join(allowed)}; got {value[:40]!r}.")
    return value


def _decode(data: bytes, field: str):
    settings: Settings = current_app.extensions["settings"]
    return decode_image(data, max_bytes=settings.max_upload_bytes,
                        max_pixels=settings.max_image_pixels, field=field)


def _uploaded_trimap(shape: tuple[int, int]) -> np.ndarray | None:
    data = read_upload("trimap", required=False)
    if data is None:
        return None
    trimap = _decode(data, "trimap").rgb[:, :, 0]
    if trimap.shape != shape:
        raise ApiError(400, "bad_trimap", f"The trimap is {trimap.shape[1]}×{trimap.shape[0]}; "
                       f"the image is {shape[1]}×{shape[0]}.")
    # 0 background, 255 foreground, anything between unknown.
    return np.where((trimap == 0) | (trimap == 255), trimap, 128).astype(np.uint8)


def _parse_job() -> tuple[MatteJob, str]:
    output = _choice("output", OUTPUTS, "composite")
    fmt = _choice("format", tuple(ENCODE_FORMATS), "png")
    if_no_person = _choice("if_no_person", NO_PERSON_CHOICES, "error")
    params = TrimapParams.from_form(request.form)
    image_bytes = read_upload("image")
    image = _decode(image_bytes, "image")
    check_encodable(*image.rgb.shape[:2], fmt)
    background_upload = request.files.get("background")
    uploaded_rgb = _decode(background_upload.read(), "background").rgb if background_upload \
        else None
    try:
        background = parse_background(request.form.get("background"), uploaded_rgb,
                                      current_app.extensions["backgrounds"])
    except ValueError as exc:
        raise ApiError(400, "bad_background", str(exc)) from None
    transparent = output == "cutout" or (output == "composite" and background.transparent)
    if transparent and fmt == "jpeg":
        raise ApiError(400, "bad_parameter", "A transparent result needs format png or webp; "
                       "JPEG has no alpha channel.")
    job = MatteJob(image_bytes=image_bytes, image=image, background=background,
                   output=output, params=params, if_no_person=if_no_person,
                   trimap=_uploaded_trimap(image.rgb.shape[:2]))
    return job, fmt


@bp.post("/matte")
def matte() -> Response:
    """Cut the people out of ``image`` and answer the requested output (see README)."""
    timer = StageTimer()
    with timer.stage("decode"):
        job, fmt = _parse_job()
    matter: Matter = current_app.extensions["matter"]
    result = run_matting(job, matter, current_app.extensions["segmentation"], timer)
    with timer.stage("encode"):
        body = encode_image(result.pixels, fmt)
    response = Response(body, mimetype=mimetype(fmt))
    response.headers.update(result.info)
    response.headers["X-Background"] = job.background.label
    response.headers["Server-Timing"] = timer.header()
    return response


@bp.get("/backgrounds")
def backgrounds() -> Response:
    """The named backgrounds, with their sizes."""
    library = current_app.extensions["backgrounds"]
    return jsonify(backgrounds=[{"name": name, "width": int(image.shape[1]),
                                 "height": int(image.shape[0])}
                                for name, image in library.items()])


@bp.get("/readyz")
def readyz() -> Response:
    """Models loaded and the segmentation service reachable."""
    matter: Matter = current_app.extensions["matter"]
    if not current_app.extensions["segmentation"].ready():
        raise ApiError(503, "segmentation_unavailable", "The segmentation service at "
                       f"{current_app.extensions['settings'].segmentation_url} is not ready.")
    return jsonify(status="ready", matter=matter.name)


def create_app(settings: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the matting service; loads and warms its model and backgrounds once, here."""
    if not isinstance(settings, Settings):
        settings = Settings.load(settings)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    limit_malloc_arenas()
    app = Flask(__name__)
    configure_app(app, settings, uploads=3)
    matter = load_matter(settings)
    threads = configure_threads(settings.threads)
    warm_image = np.zeros((32, 32, 3), np.uint8)
    warm_trimap = np.zeros((32, 32), np.uint8)
    warm_trimap[8:24, 8:24] = 128
    warm_trimap[12:20, 12:20] = 255
    matter.matte(warm_image, warm_trimap)  # compiles and allocates before the first request
    app.extensions["matter"] = matter
    app.extensions["backgrounds"] = load_library(Path(settings.backgrounds_dir))
    app.extensions["segmentation"] = SegmentationClient(
        settings.segmentation_url, settings.segmentation_connect_timeout,
        settings.segmentation_read_timeout, api_key=settings.segmentation_api_key)
    app.register_blueprint(bp)
    app.register_blueprint(web_bp)  # the page; after the backgrounds, for their thumbnails
    log.info("matting service ready with matter %s, %d threads, segmentation at %s",
             matter.name, threads, settings.segmentation_url)
    return app
