"""HTTP shell of the segmentation service over the core: parse, call the pipeline, encode."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from background_replacement.device import configure_threads
from background_replacement.people import NoSuchPerson, people_json
from background_replacement.pipeline import TrimapResult, find_people, segment_to_trimap, warm_up
from background_replacement.segmentation_api.openapi import openapi_document
from background_replacement.segmenters import PersonSegmenter, load_segmenter
from background_replacement.service_common.docs import bp as docs_bp
from background_replacement.service_common.errors import ApiError
from background_replacement.service_common.form_fields import (
    form_flag,
    people_choice,
    trimap_params,
)
from background_replacement.service_common.http import (
    add_common_routes,
    decode_upload,
    new_service,
    read_upload,
)
from background_replacement.service_common.uploads import encode_image
from background_replacement.timing import StageTimer

log = logging.getLogger(__name__)
bp = Blueprint("segmentation", __name__)
add_common_routes(bp, openapi_document)


def _segmenter() -> PersonSegmenter:
    return current_app.extensions["segmenter"]


def _run(timer: StageTimer) -> TrimapResult:
    data = read_upload("image")
    params = trimap_params(request.form)
    choice = people_choice(request.form)
    allow_empty = form_flag(request.form, "allow_empty")
    with timer.stage("decode"):
        image = decode_upload(data)
    try:
        result = segment_to_trimap(_segmenter(), image.rgb, params, timer, choice=choice)
    except ValueError as exc:  # a point off the photo
        raise ApiError(400, "bad_parameter", f"{exc}.") from None
    except NoSuchPerson as exc:  # well-formed, but not a person of this photo
        raise ApiError(422, "no_such_person", f"{exc}.") from None
    if result.people_count == 0 and not allow_empty:
        raise ApiError(422, "no_person", "No person was found in the image "
                       f"(segmenter '{_segmenter().name}', score_threshold "
                       f"{params.score_threshold:g}). Send allow_empty=true to get an "
                       "all-background answer instead.")
    return result


def _png_response(pixels: np.ndarray, result: TrimapResult, timer: StageTimer) -> Response:
    with timer.stage("encode"):
        body = encode_image(pixels, "png")
    response = Response(body, mimetype="image/png")
    response.headers["X-People-Count"] = str(result.people_count)  # in the answer: those kept
    response.headers["X-People-Found"] = str(len(result.found))
    response.headers["X-Segmenter"] = _segmenter().name
    response.headers["Server-Timing"] = timer.header()
    return response


@bp.post("/trimap")
def trimap() -> Response:
    """The trimap of the uploaded ``image``: one-channel PNG, 0/128/255, at the input's size."""
    timer = StageTimer()
    result = _run(timer)
    return _png_response(result.trimap, result, timer)


@bp.post("/mask")
def mask() -> Response:
    """The person probability of the uploaded ``image`` as an 8-bit one-channel PNG."""
    timer = StageTimer()
    result = _run(timer)
    pixels = np.clip(result.probability * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return _png_response(pixels, result, timer)


@bp.post("/people")
def people() -> Response:
    """The people found in the uploaded ``image``, one by one, as JSON (see ``people_json``)."""
    timer = StageTimer()
    data = read_upload("image")
    params = trimap_params(request.form)
    with timer.stage("decode"):
        image = decode_upload(data)
    with timer.stage("segment"):
        found = find_people(_segmenter(), image.rgb, params)
    with timer.stage("encode"):
        response = jsonify(people_json(found, _segmenter().name))
    response.headers["X-People-Count"] = str(len(found))
    response.headers["X-Segmenter"] = _segmenter().name
    response.headers["Server-Timing"] = timer.header()
    return response


@bp.get("/readyz")
def readyz() -> Response:
    """The model is loaded and answering."""
    return jsonify(status="ready", segmenter=_segmenter().name)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the segmentation service; loads and warms its model once, here."""
    # SEGMENTATION_API_KEY is the key the matting service sends: one variable sets both ends.
    app, settings, _ = new_service(__name__, overrides, keyed_by_segmentation_key=True)
    segmenter = load_segmenter(settings)
    threads = configure_threads(settings.threads)
    warm_up(segmenter=segmenter)
    app.extensions["segmenter"] = segmenter
    app.register_blueprint(bp)
    app.register_blueprint(docs_bp)  # /docs: a viewer of /openapi.json
    log.info("segmentation service ready with segmenter %s, %d threads", segmenter.name,
             threads)
    return app
