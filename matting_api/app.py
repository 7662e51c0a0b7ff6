"""HTTP shell of the matting service over the core: parse, call the pipeline, encode."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from background_replacement.background import Picture, load_library, parse_background
from background_replacement.compositing import cover
from background_replacement.device import configure_threads
from background_replacement.hints import Hint
from background_replacement.matters import Matter, load_matter
from background_replacement.matting_api.matting_job import MatteJob, run_matting
from background_replacement.matting_api.openapi import openapi_document
from background_replacement.matting_api.page import bp as web_bp
from background_replacement.matting_api.removebg.routes import bp as removebg_bp
from background_replacement.matting_api.segmentation_client import SegmentationClient
from background_replacement.pipeline import (
    NO_PERSON_CHOICES,
    OUTPUTS,
    check_format,
    warm_up,
)
from background_replacement.service_common.docs import bp as docs_bp
from background_replacement.service_common.errors import ApiError
from background_replacement.service_common.form_fields import (
    effects,
    form_number,
    people_choice,
    trimap_params,
)
from background_replacement.service_common.http import (
    add_common_routes,
    decode_upload,
    new_service,
    read_upload,
    takes_slot,
)
from background_replacement.service_common.pixel_budget import charge_pixels
from background_replacement.service_common.uploads import (
    ENCODE_FORMATS,
    MAX_IMAGE_SIDE,
    check_encodable,
    encode_image,
    mimetype,
)
from background_replacement.timing import StageTimer
from background_replacement.trimap import as_trimap

log = logging.getLogger(__name__)
bp = Blueprint("matting", __name__)
add_common_routes(bp, openapi_document)


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (request.form.get(name) or default).strip().lower()
    if value not in allowed:
        raise ApiError(400, "bad_parameter",
                       f"'{name}' must be one of {', '.join(allowed)}; got {value[:40]!r}.")
    return value


def _uploaded_trimap(shape: tuple[int, int]) -> np.ndarray | None:
    data = read_upload("trimap", required=False)
    if data is None:
        return None
    trimap = decode_upload(data, "trimap").rgb[:, :, 0]
    if trimap.shape != shape:
        raise ApiError(400, "bad_trimap", f"The trimap is {trimap.shape[1]}×{trimap.shape[0]}; "
                       f"the image is {shape[1]}×{shape[0]}.")
    return as_trimap(trimap)


def _uploaded_hint(shape: tuple[int, int]) -> Hint | None:
    data = read_upload("hint", required=False)
    if data is None:
        return None
    hint = Hint.from_photo(decode_upload(data, "hint"))
    if hint.shape != shape:
        raise ApiError(400, "bad_hint", f"The hint is {hint.shape[1]}×{hint.shape[0]}; "
                       f"the image is {shape[1]}×{shape[0]}.")
    return hint


def _parse_job() -> tuple[MatteJob, str]:
    output = _choice("output", OUTPUTS, "composite")
    fmt = _choice("format", tuple(ENCODE_FORMATS), "png")
    if_no_person = _choice("if_no_person", NO_PERSON_CHOICES, "error")
    params = trimap_params(request.form)
    chosen_effects = effects(request.form)
    choice = people_choice(request.form)
    image_bytes = read_upload("image")
    image = decode_upload(image_bytes, "image")
    check_encodable(*image.rgb.shape[:2], fmt)
    background_upload = request.files.get("background")
    if background_upload:
        background = Picture(decode_upload(background_upload.read(), "background").rgb, "upload")
    else:
        try:
            background = parse_background(request.form.get("background"),
                                          current_app.extensions["backgrounds"])
        except ValueError as exc:
            raise ApiError(400, "bad_background", str(exc)) from None
    try:
        check_format(fmt, output, background.transparent)
    except ValueError as exc:
        message = str(exc)
        raise ApiError(400, "bad_parameter", f"{message[0].upper()}{message[1:]}.") from None
    trimap = _uploaded_trimap(image.rgb.shape[:2])
    if trimap is not None and not choice.everyone:
        raise ApiError(400, "bad_parameter", "'people' and 'points' choose among the people "
                       "the segmentation finds; an uploaded trimap skips it. Send one or the "
                       "other.")
    job = MatteJob(image_bytes=image_bytes, image=image, background=background,
                   output=output, params=params, if_no_person=if_no_person, trimap=trimap,
                   choice=choice, hint=_uploaded_hint(image.rgb.shape[:2]),
                   effects=chosen_effects)
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


@bp.post("/people")
def people() -> Response:
    """The people of ``image`` one by one, as the segmentation service finds them (its JSON)."""
    timer = StageTimer()
    with timer.stage("decode"):
        image_bytes = read_upload("image")
        params = trimap_params(request.form)
        decode_upload(image_bytes, "image")  # this service's limits, before forwarding
    with timer.stage("segmentation"):
        remote = current_app.extensions["segmentation"].people(image_bytes, params)
    timer.add_remote(remote.server_timing, "seg-")
    response = jsonify(remote.body)
    response.headers["X-Segmenter"] = remote.segmenter
    response.headers["Server-Timing"] = timer.header()
    return response


@bp.post("/preview")
def preview() -> Response:
    """``image`` decoded as ``/matte`` decodes it (upright), as a JPEG (PNG when it has alpha):
    the page shows a photo the browser cannot read itself (HEIC) through this."""
    image = decode_upload(read_upload("image"), "image")
    if image.alpha is None:
        return Response(encode_image(image.rgb, "jpeg", quality=90), mimetype=mimetype("jpeg"))
    alpha = np.clip(image.alpha * 255 + 0.5, 0, 255).astype(np.uint8)
    return Response(encode_image(np.dstack([image.rgb, alpha]), "png"), mimetype=mimetype("png"))


@bp.get("/backgrounds")
def backgrounds() -> Response:
    """The named backgrounds, with their sizes."""
    library = current_app.extensions["backgrounds"]
    return jsonify(backgrounds=[{"name": name, "width": int(image.shape[1]),
                                 "height": int(image.shape[0])}
                                for name, image in library.items()])


def _size(args: Mapping[str, str], max_pixels: int) -> tuple[int, int]:
    """``height``, ``width`` from query arguments; both required, each at most
    ``MAX_IMAGE_SIDE``, together at most ``max_pixels``."""
    for name in ("width", "height"):
        if not args.get(name):
            raise ApiError(400, "bad_parameter", "Give both 'width' and 'height', or neither.")
    width, height = (int(form_number(args, name, 1, 1, MAX_IMAGE_SIDE, integer=True))
                     for name in ("width", "height"))
    if width * height > max_pixels:
        raise ApiError(413, "too_many_pixels", f"{width}×{height} is more than the "
                       f"{max_pixels} pixels this service draws.")
    return height, width


@bp.get("/backgrounds/<name>")
@takes_slot
def background(name: str) -> Response:
    """The named background as a PNG, scaled to cover ``width``×``height`` and centre-cropped
    when both are given (as ``/matte`` draws it behind a photo of that size), else as it is;
    under the same in-flight and pixel bounds as an upload."""
    image = current_app.extensions["backgrounds"].get(name)
    if image is None:
        raise ApiError(404, "unknown_background", f"There is no background named {name[:60]!r}.")
    if "width" in request.args or "height" in request.args:
        height, width = _size(request.args, current_app.extensions["settings"].max_image_pixels)
        charge_pixels(height * width, "background asked for")
        image = cover(image, height, width)
    return Response(encode_image(image, "png"), mimetype="image/png")


@bp.get("/readyz")
def readyz() -> Response:
    """Models loaded and the segmentation service reachable."""
    matter: Matter = current_app.extensions["matter"]
    reason = current_app.extensions["segmentation"].unready_reason()
    if reason:
        raise ApiError(503, "segmentation_unavailable", reason)
    return jsonify(status="ready", matter=matter.name)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the matting service; loads and warms its model and backgrounds once, here."""
    app, settings, service = new_service(__name__, overrides,
                                         uploads=4)  # image, background, trimap, hint
    matter = load_matter(settings)
    threads = configure_threads(settings.threads)
    warm_up(matter=matter)
    app.extensions["matter"] = matter
    app.extensions["backgrounds"] = load_library(Path(settings.backgrounds_dir))
    app.extensions["segmentation"] = SegmentationClient(
        service.segmentation_url, service.segmentation_connect_timeout,
        service.segmentation_read_timeout, api_key=service.segmentation_api_key)
    app.register_blueprint(bp)
    app.register_blueprint(removebg_bp)  # remove.bg's API on the same pipeline and limits
    app.register_blueprint(web_bp)  # the page; after the backgrounds, for their thumbnails
    app.register_blueprint(docs_bp)  # /docs: a viewer of /openapi.json
    log.info("matting service ready with matter %s, %d threads, segmentation at %s",
             matter.name, threads, service.segmentation_url)
    return app
