"""The wheel works outside this checkout: built, installed into a fresh virtual environment in a
temporary folder, its console script starts both services, and they answer a composite over the
default background.

The fresh environment borrows the running interpreter's site-packages for the dependencies
(a ``.pth`` file; reinstalling PyTorch and MediaPipe would take minutes and gigabytes); the
project itself is installed from the wheel alone (``--no-deps --no-index``), and everything
runs from a temporary folder without ``PYTHONPATH``, so nothing can come from the checkout.
"""

import io
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from background_replacement.background import BACKGROUNDS_DIR, DEFAULT_BACKGROUND
from testing.launcher import ROOT, free_port

pytestmark = pytest.mark.slow

NOT_BUILT = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pth", "*.part", "build",
                                   "*.egg-info", ".pytest_cache", ".ruff_cache", "out")


def run(command: list, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the project's wheel in it; its folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_BUILT)  # the build writes beside the sources
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", work / "dist", source], cwd=work)
    (wheel,) = (work / "dist").glob("*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=work)
    python = venv / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=work).strip())
    borrowed = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "borrowed-dependencies.pth").write_text("".join(f"{path}\n" for path in borrowed))
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         wheel], cwd=work)
    return venv


def clean_environment(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "VIRTUAL_ENV", "BACKGROUNDS_DIR")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def test_the_project_is_imported_from_the_installed_wheel(installed):
    (site,) = installed.glob("lib/python*/site-packages")
    top_level = {path.name for path in site.iterdir()
                 if not path.name.endswith((".dist-info", ".pth")) and path.name != "__pycache__"}
    assert top_level == {"background_replacement"}, top_level  # nothing generic beside it
    names = ["background_replacement", *(f"background_replacement.{name}" for name in (
        "matting_api", "segmentation_api", "client", "models", "batch", "service_common",
        "backgrounds"))]
    where = run([installed / "bin" / "python", "-c",
                 f"import importlib\nfor name in {names!r}: "
                 "print(importlib.import_module(name).__file__)"],
                cwd=installed.parent, env=clean_environment())
    paths = [Path(line) for line in where.splitlines()]
    assert len(paths) == len(names) and all(path.is_relative_to(site) for path in paths), paths
    shipped = (site / "background_replacement" / "backgrounds").glob("*.png")
    assert {path.name for path in shipped} == {path.name for path in BACKGROUNDS_DIR.glob("*.png")}
    for script in ("remove-background", "remove-background-video", "remove-background-services",
                   "remove-background-models"):
        assert (installed / "bin" / script).is_file(), script


def wait_ready(url: str, services: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert services.poll() is None, log.read_text(errors="replace")
        try:
            if requests.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not ready within {timeout} s:\n" + log.read_text(errors="replace"))


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the process's whole group (the command, both gunicorn masters, their workers),
    then SIGKILL whatever is left."""
    for sig, wait in ((signal.SIGTERM, 45), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the command is gone; its children may not be yet
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(1)


def test_the_console_script_serves_a_composite_over_the_default_background(
        installed, astronaut_png):
    matting_port, segmentation_port = free_port(), free_port()
    log = installed.parent / "services.log"
    env = clean_environment(SEGMENTER="selfie", MATTER="closed-form", THREADS="1", WORKERS="1")
    with log.open("w") as output:
        services = subprocess.Popen(
            [installed / "bin" / "remove-background-services", "--matting-port",
             str(matting_port), "--segmentation-port", str(segmentation_port)],
            cwd=installed.parent, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        url = f"http://127.0.0.1:{matting_port}"
        wait_ready(url, services, log)
        answer = requests.post(url + "/matte", files={"image": astronaut_png}, timeout=120)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Background"] == DEFAULT_BACKGROUND
        assert answer.headers["X-Segmenter"] == "selfie"
        composite = np.asarray(Image.open(io.BytesIO(answer.content)).convert("RGB"))
        with Image.open(BACKGROUNDS_DIR / f"{DEFAULT_BACKGROUND}.png") as background:
            green = np.asarray(background.convert("RGB"))[0, 0]
        assert np.abs(composite[0, 0].astype(int) - green).max() <= 2  # a corner: background
        # The installed client command, against the installed services.
        photo, result = installed.parent / "astronaut.png", installed.parent / "result.png"
        photo.write_bytes(astronaut_png)
        run([installed / "bin" / "remove-background", photo, result, "--server", url],
            cwd=installed.parent, env=clean_environment())
        assert Image.open(result).size == Image.open(photo).size
    finally:
        stop_group(services)
    assert services.poll() is not None
