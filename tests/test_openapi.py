"""The OpenAPI documents stay true: every route is described, and what they say is enforced."""

import io
import re
from importlib import metadata

import pytest
import requests
from flask import Flask
from PIL import Image

from background_replacement.matting_api import create_app as create_matting_app
from background_replacement.segmentation_api import create_app as create_segmentation_app

pytestmark = pytest.mark.slow


def routes(app) -> set[tuple[str, str]]:
    """(path, method) of every rule of an app, in OpenAPI's path syntax."""
    found = set()
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower()))
    return found


def documented(document: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item}


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def apps() -> dict[str, Flask]:
    """Both services' apps as their factories build them (embedded backends), in process."""
    return {"segmentation": create_segmentation_app({"segmenter": "selfie"}),
            "matting": create_matting_app({"matter": "closed-form"})}


@pytest.mark.parametrize("name", ["segmentation", "matting"])
def test_every_route_is_documented_with_the_package_version(apps, name):
    app = apps[name]
    document = app.test_client().get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["version"] == metadata.version("background-replacement")
    assert routes(app) == documented(document)
    # The page and its thumbnails are routes like the others.
    expected = {"/openapi.json", "/docs", "/healthz", "/readyz"} | (
        {"/", "/backgrounds/{name}.jpg", "/web/{filename}"} if name == "matting" else set())
    assert expected <= {path for path, _ in documented(document)}


@pytest.mark.parametrize(("service_name", "path"), [("segmentation_service", "/trimap"),
                                                    ("matting_service", "/matte")])
def test_documented_ranges_and_enums_are_enforced(request, service_name, path):
    service = request.getfixturevalue(service_name)
    document = requests.get(service.url + "/openapi.json", timeout=10).json()
    operation = document["paths"][path]["post"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    image = small_png()
    documented_statuses = {int(code) for code in operation["responses"]}
    for name, prop in schema["properties"].items():
        if "minimum" in prop:
            step = 1 if prop["type"] == "integer" else 0.5
            for outside in (prop["minimum"] - step, prop["maximum"] + step):
                answer = requests.post(service.url + path, files={"image": image},
                                       data={name: str(outside)}, timeout=60)
                assert answer.status_code == 400, (name, outside)
                assert name in answer.json()["error"]["message"]
        if "enum" in prop:
            answer = requests.post(service.url + path, files={"image": image},
                                   data={name: "not-a-documented-value"}, timeout=60)
            assert answer.status_code == 400, name
            for value in prop["enum"]:
                form = {name: value, "if_no_person": "empty", "allow_empty": "true"}
                if name == "format" and value == "jpeg":
                    form["output"] = "composite"
                answer = requests.post(service.url + path, files={"image": image}, data=form,
                                       timeout=60)
                assert answer.status_code in documented_statuses, (name, value)
                assert answer.status_code < 500


def test_removebg_enums_are_enforced(matting_service):
    document = requests.get(matting_service.url + "/openapi.json", timeout=10).json()
    operation = document["paths"]["/v1.0/removebg"]["post"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    documented_statuses = {int(code) for code in operation["responses"]}
    url = matting_service.url + "/v1.0/removebg"
    image = small_png()
    for name, prop in schema["properties"].items():
        if "enum" not in prop:
            continue
        answer = requests.post(url, files={"image_file": image},
                               data={name: "not-a-documented-value"}, timeout=60)
        assert answer.status_code == 400, name
        assert answer.json()["errors"][0]["code"] == f"invalid_{name}"
        for value in prop["enum"]:
            answer = requests.post(url, files={"image_file": image}, data={name: value},
                                   timeout=60)
            assert answer.status_code in documented_statuses, (name, value)
            assert answer.status_code < 500
