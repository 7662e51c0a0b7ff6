"""Malformed requests get a 4xx in the route's error shape, through the front and straight to
gunicorn alike, and every answer carries the headers that keep browsers from guessing."""

from __future__ import annotations

import pytest
import requests

from background_replacement.service_common.protocol import API_KEY_HEADER
from tests.conftest import PRODUCTION_KEY
from tests.hostile import raw_request

pytestmark = pytest.mark.slow

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def gunicorn_matting(start_session_service, segmentation_service):
    """The matting service under gunicorn alone, without the front."""
    return start_session_service("matting_api", {"MATTER": "closed-form",
                                                 "SEGMENTATION_URL": segmentation_service.url},
                                 server="gunicorn")


def bad_chunk_head(path: str) -> str:
    return (f"POST {path} HTTP/1.1\nHost: x\n{API_KEY_HEADER}: {PRODUCTION_KEY}\n"
            "Content-Type: multipart/form-data; boundary=b\nTransfer-Encoding: chunked\n")


@pytest.fixture(params=["front", "gunicorn"])
def service(request, production_services, gunicorn_matting):
    return production_services if request.param == "front" else gunicorn_matting


def test_deep_json_is_400(service):
    answer = requests.post(service.url + "/v1.0/removebg", data=DEEP_JSON,
                           headers={"Content-Type": "application/json",
                                    API_KEY_HEADER: PRODUCTION_KEY}, timeout=60)
    assert answer.status_code == 400, answer.text[:200]
    assert answer.json()["errors"][0]["code"]


@pytest.mark.parametrize(("path", "shape"), [("/matte", "error"), ("/v1.0/removebg", "errors")])
def test_a_bad_chunk_is_400_in_the_routes_shape(service, path, shape):
    status, body = raw_request(service.port, bad_chunk_head(path), b"zz\r\nabc\r\n0\r\n\r\n")
    assert status == 400
    assert shape in body
    assert requests.get(service.url + "/healthz", timeout=10).status_code == 200


def test_every_answer_says_nosniff_and_no_referrer(service):
    for path in ("/", "/healthz", "/web/app.js", "/web/style.css", "/openapi.json",
                 "/backgrounds", "/nowhere"):
        answer = requests.get(service.url + path, timeout=10)
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert answer.headers["Referrer-Policy"] == "no-referrer", path


def test_every_html_path_has_the_pages_headers(service):
    pages = [requests.get(service.url + path, timeout=10) for path in ("/", "/web/index.html")]
    assert all(page.headers["Content-Type"].startswith("text/html") for page in pages)
    assert pages[0].headers["Content-Security-Policy"] \
        == pages[1].headers["Content-Security-Policy"]
