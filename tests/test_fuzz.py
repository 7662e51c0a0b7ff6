"""Property-based fuzzing of both services as real processes, driven by their OpenAPI documents:
random form fields, values and uploads never get a 5xx, and the service stays up."""

from __future__ import annotations

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile import cmyk_jpeg, encoded, plain_scene, png_claiming

pytestmark = pytest.mark.slow

UPLOADS = st.sampled_from([
    encoded(plain_scene(48, 36), "PNG"), encoded(plain_scene(48, 36), "JPEG"),
    encoded(plain_scene(48, 36), "WEBP"), cmyk_jpeg(), png_claiming(90_000, 90_000),
    b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"<svg/>", b"\xff\xd8\xff\xe0" + b"\x00" * 40,
]) | st.binary(max_size=300)

TEXT = st.text(max_size=40) | st.sampled_from(["", "nan", "-inf", "1e999", "0x10", "../x",
                                               "#zzzzzz", "true", "%00", "\u202e"])


def values_for(schema: dict) -> st.SearchStrategy:
    """Valid values of a documented property, mixed with anything at all."""
    if "enum" in schema:
        valid = st.sampled_from(schema["enum"])
    elif schema.get("type") in ("number", "integer"):
        valid = st.floats(schema["minimum"], schema["maximum"]).map(
            lambda v: str(int(v)) if schema["type"] == "integer" else repr(v))
    else:
        valid = st.sampled_from(["green", "blur", "transparent", "#00ff00", "sky"])
    return valid | TEXT


def form_strategy(schema: dict) -> st.SearchStrategy:
    text_fields = {name: values_for(prop) for name, prop in schema["properties"].items()
                   if prop.get("format") != "binary"}
    return st.fixed_dictionaries({}, optional=text_fields)


def fuzz(service, path: str, examples: int) -> None:
    document = requests.get(service.url + "/openapi.json", timeout=10).json()
    schema = document["paths"][path]["post"]["requestBody"]["content"][
        "multipart/form-data"]["schema"]
    session = requests.Session()

    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(form=form_strategy(schema), upload=UPLOADS, field=st.sampled_from(["image", "img"]))
    def one_request(form, upload, field):
        files = {field: ("f.png", upload)}
        if "trimap" in schema["properties"] and form.get("output") == "trimap":
            files["trimap"] = ("t.png", upload)
        response = session.post(service.url + path, files=files, data=form, timeout=60)
        assert response.status_code < 500, (form, upload[:20], response.text)
        if response.status_code >= 400:
            assert response.json()["error"]["code"]

    one_request()
    assert service.alive()
    assert requests.get(service.url + "/readyz", timeout=10).status_code == 200


def test_fuzz_segmentation(segmentation_service):
    fuzz(segmentation_service, "/trimap", examples=150)


def test_fuzz_matting(matting_service):
    fuzz(matting_service, "/matte", examples=120)
