"""A segmentation worker that dies mid-request under gunicorn (the README's production command)
costs only the requests it held: the master replaces it, the matting service answers those
requests with 503 JSON naming segmentation, and the next ones succeed with nobody restarting
anything."""

from __future__ import annotations

import io
import os
import resource
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
import torch
from PIL import Image

from background_replacement.compositing import cover
from background_replacement.segmenters.maskrcnn import build_maskrcnn
from testing.launcher import proc_stat
from tests.hostile import encoded

pytestmark = pytest.mark.slow


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=5).ok
    except requests.RequestException:  # the new worker is still loading its model
        return False


@pytest.fixture(scope="module")
def slow_segmentation_weights(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("weights") / "maskrcnn.pth"
    torch.manual_seed(0)
    torch.save(build_maskrcnn().state_dict(), path)
    return str(path)


@pytest.fixture
def no_core_files():
    """A killed worker must not leave a core file in the project folder."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    yield
    resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


@pytest.mark.parametrize("sig", [signal.SIGABRT, signal.SIGSEGV], ids=["SIGABRT", "SIGSEGV"])
def test_killed_worker_is_replaced_and_only_its_requests_fail(
        sig, start_service, slow_segmentation_weights, astronaut_png, no_core_files):
    # Mask R-CNN on one thread at a large input size: several seconds per photo, so requests
    # are surely in the worker when it is killed.
    segmentation = start_service("segmentation_api", {
        "SEGMENTER": "maskrcnn", "MASKRCNN_WEIGHTS": slow_segmentation_weights,
        "MASKRCNN_MIN_SIZE": "1000", "MASKRCNN_MAX_SIZE": "1800", "THREADS": "1"},
        server="gunicorn")
    matting = start_service("matting_api", {"MATTER": "closed-form",
                                            "SEGMENTATION_URL": segmentation.url},
                            server="gunicorn")
    rgb = np.asarray(Image.open(io.BytesIO(astronaut_png)).convert("RGB"))
    photo = encoded(Image.fromarray(cover(rgb, 720, 1280)), "JPEG")

    def matte() -> requests.Response:
        return requests.post(matting.url + "/matte", files={"image": photo},
                             data={"if_no_person": "empty"}, timeout=120)

    master = segmentation.process.pid
    [worker] = segmentation.worker_pids()
    idle = cpu_seconds(worker)
    with ThreadPoolExecutor(2) as pool:
        in_flight = [pool.submit(matte) for _ in range(2)]
        wait_for(lambda: cpu_seconds(worker) - idle > 0.3, 60, "the worker starts working")
        os.kill(worker, sig)
        answers = [future.result() for future in in_flight]

    for answer in answers:
        if sig == signal.SIGSEGV or answer.status_code != 200:
            # SIGSEGV ends a process at once, as a native crash does. On SIGABRT gunicorn's own
            # handler lets the worker finish what it holds before it exits.
            assert answer.status_code == 503, answer.text
            error = answer.json()["error"]
            assert error["code"] == "segmentation_unavailable"
            assert "segmentation service" in error["message"]
            assert answer.headers["Retry-After"]
    replaced = wait_for(lambda: [p for p in segmentation.worker_pids() if p != worker], 120,
                        "gunicorn starts a new worker")
    assert segmentation.process.pid == master and segmentation.alive() and matting.alive()
    wait_for(lambda: ready(segmentation.url), 120, "the new worker is ready")
    assert segmentation.worker_pids() == replaced
    for _ in range(2):
        assert matte().status_code == 200
