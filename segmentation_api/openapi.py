"""The segmentation service's OpenAPI document, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from background_replacement.service_common.openapi import (
    BINARY_FILE,
    HEALTH,
    LIVENESS,
    PEOPLE_SCHEMA,
    document,
    error_responses,
    json_get,
    multipart_body,
    people_parameter_properties,
    trimap_parameter_properties,
)


def _segment_operation(summary: str, answer: str) -> dict[str, Any]:
    properties = {"image": BINARY_FILE, **trimap_parameter_properties(),
                  **people_parameter_properties(),
                  "allow_empty": {"type": "string", "enum": ["true", "false"],
                                  "default": "false",
                                  "description": "true: no person gives 200, not 422"}}
    return {"post": {
        "summary": summary,
        "requestBody": multipart_body(properties, ["image"]),
        "responses": {
            "200": {"description": answer, "headers": {
                "X-People-Count": {"schema": {"type": "integer"},
                                   "description": "people in the answer (those kept)"},
                "X-People-Found": {"schema": {"type": "integer"},
                                   "description": "people found, kept or not"},
                "X-Segmenter": {"schema": {"type": "string"}},
                "Server-Timing": {"schema": {"type": "string"}}},
                "content": {"image/png": {"schema": BINARY_FILE}}},
            **error_responses(400, 403, 429, 413, 415, 422, 503)}}}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI description of every route of the segmentation service."""
    return document("Segmentation service", "People in a photo → person probability → trimap.", {
        "/trimap": _segment_operation(
            "The trimap of the people in an image.",
            "One-channel PNG at the input's size: 0 background, 128 unknown, 255 foreground."),
        "/mask": _segment_operation(
            "The person probability of every pixel.",
            "One-channel 8-bit PNG at the input's size: probability × 255."),
        "/people": {"post": {
            "summary": "The people found, one by one: box, score, area and an index mask.",
            "requestBody": multipart_body({"image": BINARY_FILE,
                                           "score_threshold": trimap_parameter_properties()[
                                               "score_threshold"]}, ["image"]),
            "responses": {"200": {"description": "Every person found (none is not an error).",
                                  "content": {"application/json": {"schema": PEOPLE_SCHEMA}}},
                          **error_responses(400, 403, 429, 413, 415, 503)}}},
        "/healthz": json_get("The process is alive.", LIVENESS),
        "/readyz": json_get("The model is loaded.", HEALTH),
    })
