"""What Swagger UI sends is answered as meant: empty optional fields are absent, no example is
sent as a value, and both documents declare the API key so that /docs offers Authorize."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from background_replacement.service_common.protocol import API_KEY_HEADER

pytestmark = pytest.mark.slow


def small_photo(astronaut_png: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(astronaut_png)).convert("RGB").resize((128, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def walk(node):
    """Every dict inside a JSON document."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@pytest.mark.parametrize("service_name", ["segmentation_service", "matting_service"])
def test_no_example_and_the_api_key_scheme_in_both_documents(request, service_name):
    service = request.getfixturevalue(service_name)
    document = requests.get(service.url + "/openapi.json", timeout=10).json()
    assert not [node for node in walk(document) if "example" in node or "examples" in node]
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": API_KEY_HEADER}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "post":  # a key, optional: a service without API_KEYS needs none
                assert operation["security"] == [{"ApiKey": []}, {}], path
            else:
                assert "security" not in operation, path


def test_swaggers_request_shape_is_answered_as_without_the_empty_fields(matting_service,
                                                                       astronaut_png):
    photo = small_photo(astronaut_png)
    plain = requests.post(matting_service.url + "/matte", files={"image": photo}, timeout=120)
    assert plain.status_code == 200, plain.text
    # Swagger UI's "Try it out" with only the image chosen: empty text fields for the others,
    # the documented defaults as values.
    empty = {"trimap": "", "hint": "", "background": "", "points": "", "people": "all",
             "output": "composite", "format": "png", "if_no_person": "error"}
    shaped = requests.post(matting_service.url + "/matte", files={"image": photo}, data=empty,
                           timeout=120)
    assert shaped.status_code == 200, shaped.text
    assert shaped.content == plain.content
    # A browser form's unchosen file: an empty part without a file name.
    unchosen = {name: ("", b"", "application/octet-stream")
                for name in ("trimap", "hint", "background")}
    formed = requests.post(matting_service.url + "/matte",
                           files={"image": photo, **unchosen}, timeout=120)
    assert formed.status_code == 200, formed.text
    assert formed.content == plain.content
    # Still refused: text where a file belongs, and an empty file that has a name.
    text = requests.post(matting_service.url + "/matte", files={"image": photo},
                         data={"trimap": "x"}, timeout=120)
    assert (text.status_code, text.json()["error"]["code"]) == (400, "bad_field")
    named = requests.post(matting_service.url + "/matte",
                          files={"image": photo, "trimap": ("t.png", b"")}, timeout=120)
    assert (named.status_code, named.json()["error"]["code"]) == (400, "empty_upload")


def test_try_it_out_with_only_an_image_in_the_browser(matting_service, browser, astronaut_png,
                                                      tmp_path):
    """/docs → /matte → Try it out → choose the image → Execute: 200, and Authorize is there."""
    from playwright.sync_api import expect

    photo = tmp_path / "photo.png"
    photo.write_bytes(small_photo(astronaut_png))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", lambda route: route.continue_()
                  if urlsplit(route.request.url).hostname == "127.0.0.1" else route.abort())
    try:
        page = context.new_page()
        page.goto(matting_service.url + "/docs")
        expect(page.locator(".btn.authorize")).to_be_visible(timeout=20_000)
        block = page.locator(".opblock-post").filter(
            has=page.locator('.opblock-summary-path[data-path="/matte"]'))
        block.locator(".opblock-summary").click()
        block.locator(".try-out__btn").click()
        block.locator('tr[data-property-name="image"] input[type=file]').set_input_files(str(photo))
        with page.expect_response(lambda answer: answer.url.endswith("/matte")) as answered:
            block.locator(".execute").click()
        response = answered.value
        page.screenshot(path=str(tmp_path / "try-it-out.png"), full_page=True)
        assert response.status == 200, response.text()
        sent = response.request.post_data_buffer or b""
        assert b"120,80" not in sent  # no example went out as a value
    finally:
        context.close()
