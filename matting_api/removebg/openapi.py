"""The OpenAPI description of the remove.bg-compatible routes, from their own constants."""

from __future__ import annotations

from typing import Any

from background_replacement.matting_api.removebg.options import (
    CHANNELS,
    DEFAULT_SIZE,
    FORMATS,
    IGNORED_FLAGS,
    MAX_MARGIN,
    REFUSED_TYPES,
    SCALE_RANGE,
    SHADOW_METHODS,
    SIZES,
    TYPE_LEVELS,
    TYPES,
    URL_FIELDS,
)
from background_replacement.matting_api.removebg.render import MIMETYPES, ZIP_ALPHA, ZIP_COLOUR
from background_replacement.service_common.openapi import BINARY_FILE

ERRORS_SCHEMA = {"type": "object", "required": ["errors"], "properties": {"errors": {
    "type": "array", "items": {"type": "object", "required": ["title", "code"], "properties": {
        "title": {"type": "string"}, "code": {"type": "string"}}}}}}
ERROR_MEANINGS = {
    400: "A parameter is malformed or refused (image_url, bg_image_url, a type other than "
         "people), the image is unreadable or too large, or no person is found.",
    403: "API keys are configured and the X-Api-Key header holds none of them.",
    429: "Too many wrong API keys from this client within a minute: refused until it ends "
         "(retry after Retry-After seconds).",
    502: "The segmentation service answered something unusable.",
    503: "Overloaded (retry after Retry-After seconds) or the segmentation service is down.",
    504: "The segmentation service did not answer in time.",
}
RESULT_HEADERS = ("X-Width", "X-Height", "X-Type", "X-Credits-Charged", "X-Foreground-Top",
                  "X-Foreground-Left", "X-Foreground-Width", "X-Foreground-Height",
                  "X-Effects", "Server-Timing")


def _properties() -> dict[str, Any]:
    text = {"type": "string"}
    flag = {"type": "boolean"}
    return {
        "image_file": BINARY_FILE,
        "image_file_b64": {**text, "description": "the image, base64-encoded"},
        **{name: {**text, "description": f"refused: this server never fetches URLs; send "
                                         f"{instead}"} for name, instead in URL_FIELDS.items()},
        "size": {**text, "enum": list(SIZES), "default": DEFAULT_SIZE,
                 "description": "output megapixels at most: " + ", ".join(
                     f"{name} {mp if mp else 'the input (service limits)'}"
                     for name, mp in SIZES.items())},
        "type": {**text, "enum": list(TYPES), "default": "auto",
                 "description": f"people only; {', '.join(REFUSED_TYPES)} are refused (400)"},
        "type_level": {**text, "enum": list(TYPE_LEVELS), "default": "1"},
        "format": {**text, "enum": list(FORMATS), "default": "auto",
                   "description": f"zip holds {ZIP_COLOUR} and {ZIP_ALPHA}"},
        "channels": {**text, "enum": list(CHANNELS), "default": "rgba"},
        "bg_color": {**text, "description": "hex of 3, 4, 6 or 8 digits, or a colour name"},
        "bg_image_file": BINARY_FILE,
        "crop": {**flag, "default": False},
        "crop_margin": {**text, "default": "0", "description": "1, 2 or 4 lengths, each at "
                        f"most {MAX_MARGIN['px']:g}px or {MAX_MARGIN['%']:g}%; none on a side "
                        "where the person touches the image's edge"},
        "scale": {**text, "default": "original",
                  "description": f"{SCALE_RANGE[0]:g}% to {SCALE_RANGE[1]:g}% or original"},
        "position": {**text, "default": "original",
                     "description": "original, center, 'x%' or 'x% y%'"},
        "roi": {**text, "default": "0% 0% 100% 100%", "description": "x1 y1 x2 y2, px or %"},
        **{name: {**flag, "description": "accepted, no effect here"} for name in IGNORED_FLAGS},
        "add_shadow": {**flag, "default": False, "description": (
            "a contact and cast shadow under the person (as /matte's shadow=0.6) on a bg_color "
            "or bg_image_file; none on a transparent result (X-Effects says which)")},
        "shadow_method": {**text, "enum": list(SHADOW_METHODS), "default": "latest",
                          "description": "accepted, no effect here"},
    }


def removebg_paths() -> dict[str, Any]:
    """The paths of the remove.bg blueprint."""
    properties = _properties()
    schema = {"type": "object", "properties": properties}
    no_files = {"type": "object", "properties": {name: prop for name, prop in properties.items()
                                                 if prop is not BINARY_FILE}}
    json_answer = {"type": "object", "properties": {"data": {"type": "object", "properties": {
        "result_b64": {"type": "string"}, **{f"foreground_{side}": {"type": "integer"}
                                             for side in ("top", "left", "width", "height")}}}}}
    errors = {str(status): {"description": meaning, "content": {"application/json": {
        "schema": ERRORS_SCHEMA}}} for status, meaning in ERROR_MEANINGS.items()}
    removebg = {"post": {
        "summary": "remove.bg's background removal, on this service's pipeline and limits.",
        "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": no_files},
            "application/json": {"schema": no_files}}},
        "responses": {
            "200": {"description": "The result; JSON when Accept is application/json.",
                    "headers": {name: {"schema": {"type": "string"}} for name in RESULT_HEADERS},
                    "content": {**{mime: {"schema": BINARY_FILE}
                                   for mime in MIMETYPES.values()},
                                "application/json": {"schema": json_answer}}},
            **errors}}}
    account = {"get": {"summary": "remove.bg's account call: nothing is charged here.",
                       "responses": {"200": {"description": "OK", "content": {
                           "application/json": {"schema": {"type": "object"}}}}}}}
    return {"/v1.0/removebg": removebg, "/v1.0/account": account}
