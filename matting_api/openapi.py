"""The matting service's OpenAPI document, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from background_replacement.matting_api.removebg.openapi import removebg_paths
from background_replacement.pipeline import NO_PERSON_CHOICES, OUTPUTS
from background_replacement.service_common.openapi import (
    BINARY_FILE,
    HEALTH,
    LIVENESS,
    PEOPLE_SCHEMA,
    document,
    effect_parameter_properties,
    error_responses,
    file_get,
    json_get,
    multipart_body,
    people_parameter_properties,
    trimap_parameter_properties,
)
from background_replacement.service_common.uploads import ENCODE_FORMATS, MAX_IMAGE_SIDE, mimetype


def _named_background() -> dict[str, Any]:
    """GET /backgrounds/{name}."""
    return {"get": {
        "summary": "A named background, scaled to cover width×height and centre-cropped when "
                   "both are given (as /matte draws it), else at its own size; width×height is "
                   "charged to MAX_PIXELS_IN_FLIGHT and the request takes an in-flight slot, "
                   "as an upload does.",
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
            *({"name": side, "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 1, "maximum": MAX_IMAGE_SIDE}}
              for side in ("width", "height"))],
        "responses": {"200": {"description": "The background.",
                              "content": {"image/png": {"schema": BINARY_FILE}}},
                      **error_responses(400, 404, 413, 503)}}}


HINT_FORM = (
    "Corrections merged into the automatic trimap (or the uploaded one) before matting: an "
    "image the photo's size (else 400 bad_hint), best a PNG with alpha. Where it is opaque "
    "(alpha ≥ 128, or everywhere without an alpha channel) its first channel says: 0 remove "
    "(sure background), 255 keep (sure person), any other value edge (unknown, the matting "
    "decides, and its alpha there is kept as solved, fine hair included); where it is "
    "transparent the automatic trimap stays.")


EFFECTS_HEADER = (
    "The effects the answer received, with their strengths (harmonise=0.5, light_wrap=0.3, "
    "shadow=0.6, shadow_angle=0: the angle comes with the shadow), or none. Only a "
    "composite over a background with pixels gets any: "
    "harmonise and light_wrap over a picture (named or uploaded) or blur, shadow over a "
    "picture or a colour; a transparent result, cutout, alpha, foreground or trimap never.")


def _matte_path() -> dict[str, Any]:
    """``POST /matte``: its form fields and its answers."""
    properties = {
        "image": BINARY_FILE,
        "background": {"oneOf": [
            {"type": "string", "description": "a name from GET /backgrounds, #rrggbb, "
                                              "'blur' or 'transparent'", "default": "green"},
            BINARY_FILE]},
        "output": {"type": "string", "enum": list(OUTPUTS), "default": "composite"},
        "format": {"type": "string", "enum": list(ENCODE_FORMATS), "default": "png"},
        "if_no_person": {"type": "string", "enum": list(NO_PERSON_CHOICES), "default": "error"},
        "trimap": {**BINARY_FILE, "description": "0 background, 255 foreground, else unknown; "
                                                 "skips segmentation (then no people/points)"},
        "hint": {**BINARY_FILE, "description": HINT_FORM},
        **people_parameter_properties(),
        **trimap_parameter_properties(),
        **effect_parameter_properties(),
    }
    return {"post": {
        "summary": "Cut the people out of an image and put them over a background.",
        "requestBody": multipart_body(properties, ["image"]),
        "responses": {
            "200": {"description": "The requested output at the input's size.", "headers": {
                name: {"schema": {"type": "string"}} for name in (
                    "X-Matter", "X-Segmenter", "X-People-Count", "X-People-Found", "X-Hint",
                    "X-Background", "Server-Timing")} | {
                "X-Effects": {"schema": {"type": "string"}, "description": EFFECTS_HEADER}},
                "content": {mimetype(fmt): {"schema": BINARY_FILE} for fmt in ENCODE_FORMATS}},
            **error_responses(400, 403, 429, 413, 415, 422, 502, 503, 504)}}}


def _photo_paths() -> dict[str, Any]:
    """``POST /people`` and ``POST /preview``: what the service finds in a photo, and the photo
    as it reads it."""
    return {
        "/people": {"post": {
            "summary": "The people found, one by one (the segmentation service's answer).",
            "requestBody": multipart_body({"image": BINARY_FILE,
                                           "score_threshold": trimap_parameter_properties()[
                                               "score_threshold"]}, ["image"]),
            "responses": {"200": {"description": "Every person found; index is what "
                                                 "'people' takes.",
                                  "content": {"application/json": {"schema": PEOPLE_SCHEMA}}},
                          **error_responses(400, 403, 429, 413, 415, 502, 503, 504)}}},
        "/preview": {"post": {
            "summary": "The image as this service reads it, upright: a JPEG, or a PNG when it "
                       "has alpha (for the page, where the browser cannot show the format).",
            "requestBody": multipart_body({"image": BINARY_FILE}, ["image"]),
            "responses": {"200": {"description": "The decoded image at its upright size.",
                                  "content": {mime: {"schema": BINARY_FILE}
                                              for mime in ("image/jpeg", "image/png")}},
                          **error_responses(400, 403, 429, 413, 415, 503)}}},
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI description of every route of the matting service."""
    backgrounds = {"type": "object", "properties": {"backgrounds": {"type": "array", "items": {
        "type": "object", "properties": {"name": {"type": "string"},
                                         "width": {"type": "integer"},
                                         "height": {"type": "integer"}}}}}}
    return document("Matting service", "Alpha matting and compositing over a new background.", {
        "/matte": _matte_path(),
        **_photo_paths(),
        "/backgrounds": json_get("The named backgrounds, the default first.", backgrounds),
        "/backgrounds/{name}": _named_background(),
        "/healthz": json_get("The process is alive.", LIVENESS),
        "/readyz": json_get("Models loaded and the segmentation service reachable.", HEALTH,
                            503),
        **removebg_paths(),
        "/": file_get("The web page: drop a photo, choose a background, download the result.",
                      ("text/html",)),
        "/favicon.ico": file_get("The page's icon.", ("image/svg+xml",)),
        "/web/{filename}": file_get("The page's script, style sheet and icon.",
                                    ("text/javascript", "text/css", "image/svg+xml"), 404,
                                    path_parameters=("filename",)),
        "/backgrounds/{name}.jpg": file_get("A small JPEG of a named background, for the page.",
                                            ("image/jpeg",), 404, path_parameters=("name",)),
    })
