"""Pixel bombs (tiny files of many pixels) against the production command: each request's
images are charged to the worker's pixel budget before decoding, so four at once stay within the
memory the README states and the manifests' limits."""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from background_replacement.service_common.protocol import API_KEY_HEADER
from background_replacement.service_common.settings import ServiceSettings
from testing.launcher import ROOT, group_pids
from tests.conftest import PRODUCTION_KEY
from tests.manifests import RENDERED, app_module, serving

pytestmark = pytest.mark.slow

BUDGET = ServiceSettings().max_pixels_in_flight
KEYED = {API_KEY_HEADER: PRODUCTION_KEY}


def bomb(width: int, height: int) -> bytes:
    """A lossless WebP of one colour: a few hundred bytes that decode to width × height."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buffer, format="WEBP", lossless=True)
    return buffer.getvalue()


def stated_budget_mib() -> float:
    """What the README states a worker may use above idle with the default budget."""
    text = (ROOT / "README.md").read_text()
    return float(re.search(r"at most ([\d.]+) GiB above its idle memory", text).group(1)) * 1024


def manifest_limits_mib() -> dict[str, float]:
    """Each service's memory limit in the base manifests, in MiB."""
    units = {"Mi": 1, "Gi": 1024}
    limits = {}
    for _, container in serving(RENDERED["base"]):
        value = container["resources"]["limits"]["memory"]
        limits[app_module(container)] = float(value[:-2]) * units[value[-2:]]
    return limits


def workers(production) -> dict[str, list[int]]:
    """The gunicorn workers of each service of the production command, by app module."""
    found: dict[str, list[int]] = {"segmentation_api": [], "matting_api": []}
    for pid in group_pids(production.process.pid):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        for module in found:
            if f"{module}:create_app" in command and parent != production.process.pid:
                found[module].append(pid)
    return found


def resident_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_a_request_over_the_budget_is_refused_before_decoding(production_services):
    side = int((BUDGET * 1.1) ** 0.5)
    for files in ({"image": bomb(side, side)},
                  {"image": bomb(2000, 2000), "background": bomb(side, side * 3 // 4)}):
        answer = requests.post(production_services.url + "/matte", files=files, headers=KEYED,
                               timeout=60)
        assert answer.status_code == 413, answer.text[:200]
        assert answer.json()["error"]["code"] == "too_many_pixels"
    drawn = requests.get(production_services.url + f"/backgrounds/sky?width={side}"
                         f"&height={side}", timeout=60)
    assert drawn.status_code == 413


def test_four_bombs_at_once_stay_within_the_stated_memory(production_services):
    side = int((BUDGET * 0.95) ** 0.5)
    data = bomb(side, side)
    assert len(data) < 20_000
    pids = workers(production_services)
    for group in pids.values():
        assert group
        for pid in group:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak
    idle = {pid: resident_mib(pid) for group in pids.values() for pid in group}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: requests.post(
            production_services.url + "/matte", files={"image": data},
            data={"if_no_person": "original", "format": "jpeg"}, headers=KEYED, timeout=300),
            range(4)))
    statuses = sorted(answer.status_code for answer in answers)
    assert 200 in statuses and set(statuses) <= {200, 503}, statuses
    stated, limits = stated_budget_mib(), manifest_limits_mib()
    for module, group in pids.items():
        for pid in group:
            peak = resident_mib(pid, "VmHWM")
            assert peak - idle[pid] < stated, (module, peak, idle[pid])
            assert peak < limits[module], (module, peak)
