"""Shared fixtures: paths, the evaluation data, and the services as real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from service_common.launcher import ROOT, Service

EXAMPLES = ROOT / "examples"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def astronaut_png() -> bytes:
    return (EXAMPLES / "astronaut.png").read_bytes()


@pytest.fixture(scope="session")
def segmentation_service():
    """The segmentation service with the embedded selfie backend, one process per session."""
    service = Service("segmentation_api", {"SEGMENTER": "selfie"}).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def matting_service(segmentation_service):
    """The matting service with the embedded closed-form backend, talking to the session's
    segmentation service."""
    service = Service("matting_api", {"MATTER": "closed-form",
                                      "SEGMENTATION_URL": segmentation_service.url}).start()
    yield service
    service.stop()


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test when the folder is not beside the project."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path
