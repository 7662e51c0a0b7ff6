"""Shared fixtures: paths, the evaluation data, and the services as real processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from testing.launcher import ROOT, Service

pytest_plugins = ["tests.process_guard"]

EXAMPLES = ROOT / "examples"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def astronaut_png() -> bytes:
    return (EXAMPLES / "astronaut.png").read_bytes()


def _services() -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(app: str, env: dict[str, str] | None = None, **options) -> Service:
        service = Service(app, env or {}, **options)
        started.append(service)  # registered before it starts: a failed start is stopped too
        return service.start()

    try:
        yield start
    finally:
        for service in reversed(started):
            service.stop()


@pytest.fixture
def start_service() -> Iterator[Callable[..., Service]]:
    """``start_service(app, env, server=...)`` starts a service for this test; every service it
    started is stopped when the test ends, passes or fails."""
    yield from _services()


@pytest.fixture(scope="session")
def start_session_service() -> Iterator[Callable[..., Service]]:
    """The same for services shared by the whole session."""
    yield from _services()


@pytest.fixture(scope="session")
def segmentation_service(start_session_service):
    """The segmentation service with the embedded selfie backend, one process per session."""
    return start_session_service("segmentation_api", {"SEGMENTER": "selfie"})


@pytest.fixture(scope="session")
def matting_service(start_session_service, segmentation_service):
    """The matting service with the embedded closed-form backend, talking to the session's
    segmentation service."""
    return start_session_service("matting_api", {"MATTER": "closed-form",
                                                 "SEGMENTATION_URL": segmentation_service.url})


PRODUCTION_KEY = "production-test-key-0123456789"  # the public key of production_services


@pytest.fixture(scope="session")
def production_services(start_session_service):
    """``remove-background-services`` as the README runs it, with the embedded models and only
    ``API_KEYS`` set: the front on a free port (the fixture's ``url``), both services behind
    it."""
    return start_session_service("services", {"SEGMENTER": "selfie", "MATTER": "closed-form",
                                              "API_KEYS": PRODUCTION_KEY, "THREADS": "1"},
                                 server="production")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test when the folder is not beside the project."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


# Two portraits of ../shared/data/portraits-dev, side by side with a grey gap between them: a
# photo of two people apart from each other (680×400), for the choice of people and the brush.
TWO_PEOPLE = ("00008", "00011")
PORTRAIT_SIZE, PEOPLE_GAP = (300, 400), 80


def people_side_by_side(gap: int) -> bytes:
    """The PNG of the two portraits of ``TWO_PEOPLE`` side by side, ``gap`` grey pixels apart;
    skips when ../shared/data is absent."""
    import io

    from PIL import Image

    width, height = PORTRAIT_SIZE
    canvas = Image.new("RGB", (2 * width + gap, height), (128, 128, 128))
    for place, name in enumerate(TWO_PEOPLE):
        path = shared_data("portraits-dev", "images", f"{name}.jpg")
        with Image.open(path) as portrait:
            canvas.paste(portrait.convert("RGB").resize(PORTRAIT_SIZE, Image.LANCZOS),
                         (place * (width + gap), 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def two_people_png() -> bytes:
    """The PNG of the two-people photo (a gap between them)."""
    return people_side_by_side(PEOPLE_GAP)


@pytest.fixture(scope="session")
def touching_people_png() -> bytes:
    """The same two portraits touching, no gap: one region for the selfie model (600×400)."""
    return people_side_by_side(0)


@pytest.fixture(scope="session")
def pose_matting_service(start_session_service):
    """Both services with the pose segmenter (people anywhere) and closed-form matting."""
    segmentation = start_session_service("segmentation_api", {"SEGMENTER": "pose"})
    return start_session_service("matting_api", {"MATTER": "closed-form",
                                                 "SEGMENTATION_URL": segmentation.url})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright; skips when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: scripts/setup.sh installs it when run as root, "
                    "or run: sudo apt-get install chromium fonts-dejavu-core")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed: run scripts/setup.sh")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("web-page-screenshots")


def a_pixel_of(labels: np.ndarray, index: int) -> tuple[int, int]:
    """In an index mask (0 nobody, 1 + i person i): (x, y) of the pixel of person ``index``
    farthest from their edge."""
    mask = (labels == index + 1).astype(np.uint8)
    depth = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return int(x), int(y)
