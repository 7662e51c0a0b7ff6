"""Overload, a failing neighbour and sustained load, with the services as real processes."""

from __future__ import annotations

import io
import signal
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from PIL import Image

from background_replacement.compositing import cover
from tests.conftest import shared_data
from tests.hostile import encoded

pytestmark = pytest.mark.slow


def jpeg_640x480(source: bytes) -> bytes:
    pixels = cover(np.asarray(Image.open(io.BytesIO(source)).convert("RGB")), 480, 640)
    return encoded(Image.fromarray(pixels), "JPEG", quality=92)


def post_with_retry(session: requests.Session, url: str, image: bytes,
                    attempts: int = 60) -> tuple[requests.Response, int]:
    """POST /matte, honouring 503 + Retry-After; returns the answer and the 503s seen."""
    refused = 0
    for _ in range(attempts):
        response = session.post(url, files={"image": image}, timeout=120)
        if response.status_code != 503 or "Retry-After" not in response.headers:
            return response, refused
        refused += 1
        time.sleep(float(response.headers["Retry-After"]))
    return response, refused


def test_overload_gets_503_with_retry_after(start_service, segmentation_service, astronaut_png):
    matting = start_service("matting_api", {"MATTER": "closed-form", "MAX_IN_FLIGHT": "1",
                                            "RETRY_AFTER": "3", "QUEUE_TIMEOUT": "0",
                                            "SEGMENTATION_URL": segmentation_service.url})
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(
                lambda _: requests.post(matting.url + "/matte", files={"image": astronaut_png},
                                        timeout=120), range(4)))
        statuses = sorted(a.status_code for a in answers)
        assert 200 in statuses and 503 in statuses, statuses
        refused = next(a for a in answers if a.status_code == 503)
        assert refused.headers["Retry-After"] == "3"
        assert refused.json()["error"]["code"] == "overloaded"
        assert requests.get(matting.url + "/healthz", timeout=5).status_code == 200
    finally:
        matting.stop()


def test_segmentation_killed_mid_run(start_service, astronaut_png):
    segmentation = start_service("segmentation_api", {"SEGMENTER": "selfie"})
    matting = start_service("matting_api", {"MATTER": "closed-form", "MAX_IN_FLIGHT": "8",
                                            "SEGMENTATION_URL": segmentation.url,
                                            "SEGMENTATION_READ_TIMEOUT": "20"})
    image = jpeg_640x480(astronaut_png)
    statuses: list[int] = []
    errors: list[dict] = []
    lock = threading.Lock()

    def client(stop: threading.Event) -> None:
        session = requests.Session()
        while not stop.is_set():
            response = session.post(matting.url + "/matte", files={"image": image}, timeout=60)
            with lock:
                statuses.append(response.status_code)
                if response.status_code != 200:
                    errors.append(response.json()["error"])

    try:
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(stop,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        segmentation.process.send_signal(signal.SIGKILL)
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join(90)
        failed = [s for s in statuses if s != 200]
        assert failed, "some requests must have met the dead segmentation service"
        assert set(failed) <= {502, 503, 504}, statuses
        assert all("segmentation" in e["code"] for e in errors), errors
        address = f"127.0.0.1:{segmentation.port}"  # internal: never told to a client
        assert not any(address in e["message"] for e in errors), errors
        assert matting.alive()
        segmentation.process.wait()
        segmentation.start()  # the same port; the matting service is not restarted
        again = requests.post(matting.url + "/matte", files={"image": image}, timeout=60)
        assert again.status_code == 200
    finally:
        matting.stop()
        segmentation.stop()


def test_load_through_gunicorn(start_service, astronaut_png):
    photos = [jpeg_640x480(astronaut_png)] + [
        jpeg_640x480(path.read_bytes())
        for path in sorted(shared_data("portraits-dev", "images").glob("*.jpg"))[:3]]
    segmentation = start_service("segmentation_api", {"SEGMENTER": "selfie", "MAX_IN_FLIGHT": "8"},
                                 server="gunicorn")
    matting = start_service("matting_api", {"MATTER": "closed-form", "MAX_IN_FLIGHT": "4",
                                            "SEGMENTATION_URL": segmentation.url},
                            server="gunicorn")
    total, clients = 200, 8
    latencies: list[float] = []
    outcomes: list[int] = []
    refusals = 0
    memory: dict[str, float] = {}
    lock = threading.Lock()
    counter = iter(range(total))
    sessions = threading.local()

    def one(_: int) -> None:
        nonlocal refusals
        index = next(counter)
        session = getattr(sessions, "session", None) or requests.Session()
        sessions.session = session
        start = time.perf_counter()
        response, refused = post_with_retry(session, matting.url + "/matte",
                                            photos[index % len(photos)])
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            outcomes.append(response.status_code)
            refusals += refused

    try:
        with ThreadPoolExecutor(clients) as pool:
            # Memory is read when no request is in flight, so it shows what the services keep.
            list(pool.map(one, range(50)))
            memory["matting_50"] = matting.settled_rss_mib()
            memory["segmentation_50"] = segmentation.settled_rss_mib()
            list(pool.map(one, range(50, total)))
        memory["matting_200"] = matting.settled_rss_mib()
        memory["segmentation_200"] = segmentation.settled_rss_mib()
    finally:
        matting.stop()
        segmentation.stop()
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[18]
    growth = {name: memory[f"{name}_200"] - memory[f"{name}_50"]
              for name in ("matting", "segmentation")}
    print(f"\nload: {total} requests, {clients} clients, p50 {p50:.2f} s, p95 {p95:.2f} s, "
          f"503s retried {refusals}, memory growth 50→200: "
          f"matting {growth['matting']:+.1f} MiB, segmentation {growth['segmentation']:+.1f} MiB")
    assert outcomes.count(200) == total, sorted(set(outcomes))
    assert growth["matting"] < 50 and growth["segmentation"] < 50, growth
