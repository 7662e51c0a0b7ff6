"""Pieces of the OpenAPI documents of both services, built from the code's own constants."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from background_replacement.params import EFFECT_PARAMETERS, TRIMAP_PARAMETERS
from background_replacement.people import MAX_POINTS, PEOPLE_CHOICES
from background_replacement.service_common.protocol import API_KEY_HEADER
from background_replacement.service_common.uploads import (
    FORMAT_MAX_SIDE,
    INPUT_FORMATS_TEXT,
    MAX_IMAGE_SIDE,
)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}},
}

ERROR_MEANINGS = {
    400: "A parameter is missing, malformed or out of range, the image is corrupt, or the "
         "body itself is malformed (a bad chunk, JSON nested too deeply).",
    403: "API keys are configured and the X-Api-Key header holds none of them.",
    404: "No such path, or nothing of that name.",
    405: "Method not allowed on this path.",
    429: "Too many wrong API keys from this client within a minute: refused until it ends "
         "(retry after Retry-After seconds).",
    413: f"The upload is too large: bytes, pixels or a side over {MAX_IMAGE_SIDE} (read from "
         "the image header), or the request's images together have more pixels than the "
         "service works on at once (MAX_PIXELS_IN_FLIGHT).",
    415: f"The upload is not an image in a format this service reads: {INPUT_FORMATS_TEXT}.",
    422: "No person was found, 'people' or 'points' names a person the photo does not have "
         "(no_such_person: an index past the last one, a point on nobody), or the result is "
         f"too large for the asked format (WebP: {FORMAT_MAX_SIDE['webp']} a side).",
    502: "The segmentation service answered something unusable.",
    503: "Overloaded: every in-flight slot or the pixel budget is taken (retry after "
         "Retry-After seconds), or the segmentation service is down.",
    504: "The segmentation service did not answer in time (retry after Retry-After seconds).",
}


def trimap_parameter_properties() -> dict[str, Any]:
    """Schemas of the trimap parameters, shared by both services."""
    properties = {}
    for name, bounds in TRIMAP_PARAMETERS.items():
        properties[name] = {"type": "integer" if bounds.integer else "number",
                            "minimum": bounds.low, "maximum": bounds.high,
                            "default": bounds.default}
    return properties


def effect_parameter_properties() -> dict[str, Any]:
    """Schemas of the composite's effects (``EFFECT_PARAMETERS``)."""
    return {name: {"type": "number", "minimum": bounds.low, "maximum": bounds.high,
                   "default": bounds.default, "description": bounds.help}
            for name, bounds in EFFECT_PARAMETERS.items()}


def people_parameter_properties() -> dict[str, Any]:
    """Schemas of ``people`` and ``points`` (which people to keep), shared by both services."""
    return {
        "people": {"type": "string", "default": "all",
                   "pattern": f"^({'|'.join(PEOPLE_CHOICES)}|\\d+(,\\d+)*)$",
                   "description": "Which people to keep: all, the largest (mask area), or "
                                  "indices as POST /people numbers them (0,2). The others "
                                  "are background. 400 malformed; 422 no_such_person for an "
                                  "index past the last person."},
        "points": {"type": "string",
                   "description": f"Up to {MAX_POINTS} x,y pixels separated by ';', such as "
                                  "120,80;300,95: keep the "
                                  "person under each (with 'people' indices or largest, both "
                                  "are kept). 400 for a point off the photo; 422 "
                                  "no_such_person for a point on nobody."},
    }


PEOPLE_SCHEMA = {"type": "object", "properties": {
    "width": {"type": "integer"}, "height": {"type": "integer"},
    "segmenter": {"type": "string"},
    "people": {"type": "array", "items": {"type": "object", "properties": {
        "index": {"type": "integer", "description": "what 'people' takes"},
        "box": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4,
                "description": "x0, y0, x1, y1 in pixels, end exclusive, around the mask"},
        "score": {"type": "number", "description": "the detector's confidence"},
        "area": {"type": "integer", "description": "mask pixels (probability ≥ 0.5)"}}}},
    "index_mask": {"type": "string", "description": "data:image/png;base64 URL of a "
                   "one-channel PNG at the image's size: 0 nobody, 1 + index for a person"}}}


def error_responses(*statuses: int) -> dict[str, Any]:
    """Contract JSON error responses for the given statuses."""
    return {str(status): {"description": ERROR_MEANINGS[status], "content": {
        "application/json": {"schema": ERROR_SCHEMA}}} for status in sorted(statuses)}


def multipart_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A required multipart/form-data request body."""
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": required, "properties": properties}}}}


def json_get(summary: str, schema: dict[str, Any], *errors: int) -> dict[str, Any]:
    """A GET operation answering JSON."""
    return {"get": {"summary": summary, "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
        **error_responses(*errors)}}}


def file_get(summary: str, mimetypes: tuple[str, ...], *errors: int,
             path_parameters: tuple[str, ...] = ()) -> dict[str, Any]:
    """A GET operation answering a file (a page, a script, an image)."""
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in path_parameters]
    return {"get": {"summary": summary, **({"parameters": parameters} if parameters else {}),
                    "responses": {"200": {"description": "OK", "content": {
                        mime: {"schema": {"type": "string"}} for mime in mimetypes}},
                        **error_responses(*errors)}}}


def package_version() -> str:
    """The installed project's version (pyproject.toml's), for the documents' info."""
    try:
        return metadata.version("background-replacement")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


def document(title: str, description: str, paths: dict[str, Any]) -> dict[str, Any]:
    """The whole OpenAPI document, with the routes every service has: this document and its
    viewer (service_common.docs).

    OpenAPI 3.0.3: what the documents use is all 3.0, and the bundled Swagger UI (4.x) shows
    3.0 documents only."""
    paths = {
        **paths,
        "/openapi.json": json_get("This document.", {"type": "object"}),
        "/docs": file_get("A page that shows this document (Swagger UI, served from here).",
                          ("text/html",)),
        "/docs/viewer.js": file_get("The page's script.", ("text/javascript",)),
        "/docs/assets/{filename}": file_get("Swagger UI's files.", (
            "text/javascript", "text/css", "image/png"), 404, path_parameters=("filename",)),
    }
    return {"openapi": "3.0.3", "info": {"title": title, "version": package_version(),
                                         "description": description},
            "paths": with_key_on_posts(paths),
            "components": {"securitySchemes": {API_KEY_SCHEME: {
                "type": "apiKey", "in": "header", "name": API_KEY_HEADER,
                "description": "Needed on every POST when the service sets API_KEYS or "
                               "API_KEYS_FILE (else 403); no key is needed otherwise."}}}}


def with_key_on_posts(paths: dict[str, Any]) -> dict[str, Any]:
    """``paths`` with every POST declaring the API key, optional (a service without API_KEYS
    needs none): Swagger UI then offers Authorize and sends the key it is given."""
    return {path: {method: {**operation, "security": [{API_KEY_SCHEME: []}, {}]}
                   if method == "post" else operation
                   for method, operation in operations.items()}
            for path, operations in paths.items()}


API_KEY_SCHEME = "ApiKey"  # the security scheme's name in both documents
BINARY_FILE = {"type": "string", "format": "binary"}
HEALTH = {"type": "object", "properties": {"status": {"type": "string"}}}
LIVENESS = {"type": "object", "properties": {
    "status": {"type": "string"},
    "max_in_flight": {"type": "integer", "minimum": 1,
                      "description": "POSTs this process works on at once (MAX_IN_FLIGHT); "
                                     "more wait, then get 503 with Retry-After."}}}
