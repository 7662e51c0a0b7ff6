"""The video notebook on a copy of the checkout with no ../shared beside it, run top to bottom
by nbclient as a new user would run it; and the services it starts for itself, which stop when
its cell ends, fails, or its kernel is killed."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest
import requests
from nbclient import NotebookClient
from PIL import Image

from background_replacement.client.example_clip import zoom_frames
from background_replacement.service_common.serve import running_services
from background_replacement.video.media import probe
from testing.launcher import ROOT, running

pytestmark = pytest.mark.slow

# Never copied: the environment, git's data, results, caches, and weights a user fetched.
NOT_COPIED = shutil.ignore_patterns(".venv", ".git", "out", "__pycache__", "*_cache",
                                    "*.egg-info", "*.pth")
PROGRESS_LINE = re.compile(r"\d+/\d+ \[")  # tqdm's text bar: "12/24 [00:03<00:03, …]"


def alive_with(marker: str, cwd: Path | None = None) -> list[int]:
    """Live processes whose start-up environment holds ``marker`` or whose working directory
    lies under ``cwd``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            marked = marker.encode() in (entry / "environ").read_bytes()
            inside = cwd is not None and Path(os.readlink(entry / "cwd")).is_relative_to(cwd)
        except OSError:
            continue
        if (marked or inside) and running(entry.name):
            found.append(int(entry.name))
    return found


def wait_gone(marker: str, cwd: Path | None = None, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := alive_with(marker, cwd)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_the_notebook_runs_on_a_fresh_copy_without_shared_data(tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"  # tmp_path/shared does not exist
    shutil.copytree(ROOT, checkout, ignore=NOT_COPIED)
    marker = f"NOTEBOOK_TEST={uuid.uuid4().hex}"
    # The copy's code first, not this checkout's.
    monkeypatch.setenv("PYTHONPATH",
                       os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv(*marker.split("="))
    notebook = nbformat.read(checkout / "client" / "video.ipynb", as_version=4)
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(checkout / "client")}}).execute()
    finally:
        left = wait_gone(marker, checkout)  # the kernel and the services it started
    assert not left, f"still running after the notebook: {left}"

    result = checkout / "out" / "notebook-result.mp4"
    example = checkout / "out" / "example-astronaut.mp4"
    assert probe(result).frames == probe(example).frames == 24
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    shown = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(shown) == 3
    info = probe(result)
    for output in shown:  # the input frame beside the result frame
        image = Image.open(io.BytesIO(base64.b64decode(output["data"]["image/png"])))
        assert image.size == (2 * info.width, info.height)
    # The progress bar is a widget, drawn once, not dozens of text lines.
    assert sum("application/vnd.jupyter.widget-view+json" in output.get("data", {})
               for output in outputs) == 1
    streamed = "".join(output.get("text", "") for output in outputs
                       if output["output_type"] == "stream")
    assert not PROGRESS_LINE.search(streamed), streamed
    assert f"written: {result}" in streamed


def test_the_example_clip_moves_towards_the_chosen_point():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 150:] = 255  # the right quarter is white
    frames = list(zoom_frames(image, width=40, height=20, count=5, zoom=2.0, towards=(1.0, 0.5)))
    assert len(frames) == 5 and all(frame.shape == (20, 40, 3) for frame in frames)
    white = [float(frame.mean()) / 255 for frame in frames]
    assert white[0] == pytest.approx(0.25, abs=0.03)  # the whole picture
    assert white[-1] == pytest.approx(0.5, abs=0.03)  # its right half
    assert white == sorted(white)
    with pytest.raises(ValueError):
        next(zoom_frames(image, width=40, height=20, count=0))


def test_running_services_stop_when_the_block_fails():
    marker = f"SERVICES_TEST={uuid.uuid4().hex}"
    env = dict([marker.split("=")])
    with pytest.raises(KeyError, match="inside"), running_services(env) as url:
        assert requests.get(url + "/readyz", timeout=5).status_code == 200
        assert len(alive_with(marker)) >= 4  # two gunicorn masters and their workers
        raise KeyError("inside")
    assert not alive_with(marker)


def test_running_services_that_cannot_start_say_why_and_leave_nothing(tmp_path):
    marker = f"SERVICES_TEST={uuid.uuid4().hex}"
    env = {**dict([marker.split("=")]), "SEGMENTER": "maskrcnn",
           "MASKRCNN_WEIGHTS": str(tmp_path / "missing.pth")}
    with pytest.raises(RuntimeError, match=r"(?s)segmentation_api.*exited.*missing\.pth"), \
            running_services(env):
        pass
    assert not alive_with(marker)


def test_services_stop_when_the_process_that_started_them_is_killed():
    marker = f"SERVICES_TEST={uuid.uuid4().hex}"
    starter = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from background_replacement.service_common.serve import running_services\n"
         "with running_services() as url:\n"
         "    print(url, flush=True)\n"
         "    time.sleep(600)\n"],
        env={**os.environ, **dict([marker.split("=")])}, stdout=subprocess.PIPE, text=True)
    try:
        url = starter.stdout.readline().strip()
        assert requests.get(url + "/readyz", timeout=5).status_code == 200
        starter.send_signal(signal.SIGKILL)  # no finally, no atexit: as a killed kernel
        starter.wait()
        assert not wait_gone(marker, timeout=45)
    finally:
        starter.kill()
        starter.wait()
