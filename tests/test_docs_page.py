"""``/docs`` in a real browser (Playwright driving Debian's Chromium, as tests/test_web_page.py):
each service's viewer lists every path of its OpenAPI document with every request outside
127.0.0.1 blocked, so it works offline and asks nothing of any other host."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("service_name", ["segmentation_service", "matting_service"])
def test_docs_lists_every_route_offline(request, browser, tmp_path, service_name):
    from playwright.sync_api import expect

    service = request.getfixturevalue(service_name)
    document = requests.get(service.url + "/openapi.json", timeout=10).json()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []
    errors: list[str] = []

    def only_loopback(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    try:
        context.route("**/*", only_loopback)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(service.url + "/docs")
        operations = page.locator(".opblock")
        expect(operations.first).to_be_visible(timeout=20_000)
        expect(page.locator(".info .title")).to_contain_text(document["info"]["title"])
        expect(page.locator(".info .title")).to_contain_text(document["info"]["version"])
        shown = set(page.locator(".opblock-summary-path").evaluate_all(
            "nodes => nodes.map(node => node.getAttribute('data-path'))"))
        count = operations.count()
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
    finally:
        context.close()
    assert shown == set(document["paths"])
    assert count == sum(len(item) for item in document["paths"].values())
    assert blocked == [], "the viewer must load everything from the service itself"
    assert errors == []
