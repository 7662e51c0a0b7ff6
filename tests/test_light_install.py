"""The light install: the README's first install line brings no PyTorch, and the embedded path
(the Python API, ``--local`` and both services with the default ``auto`` settings) runs where
PyTorch cannot be imported."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image

from testing.commands import PHOTO_COMMAND
from testing.launcher import ROOT

pytestmark = pytest.mark.slow

TORCH = ("torch", "torchvision")
# What makes PyTorch unimportable in every Python process that has this folder on its path:
# a None in sys.modules is what Python reads as "not installed" (import fails, find_spec None).
NO_TORCH = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in TORCH)


def readme_install_line() -> str:
    """The extras of the README's first "Outside this checkout" install line."""
    text = " ".join((ROOT / "README.md").read_text().split())
    match = re.search(r"Outside this checkout, `pip install '\.\[([a-z,]+)\]'`", text)
    assert match, "README has no 'Outside this checkout, `pip install '.[…]'`' line"
    return match.group(1)


def index_reachable() -> bool:
    """Whether pip can reach a package index that has mediapipe (the dry run needs it)."""
    done = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "mediapipe"],
                          capture_output=True, timeout=120)
    return done.returncode == 0


def test_the_readmes_install_line_resolves_without_torch(tmp_path):
    extras = readme_install_line()
    assert "embedded" in extras.split(",")
    if not index_reachable():
        pytest.skip("the package index is unreachable: pip cannot resolve the install line")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
         "--no-build-isolation", "--quiet", "--report", str(report), f".[{extras}]"],
        cwd=ROOT, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"mediapipe", "scipy", "flask", "gunicorn"} <= names
    assert not names & {*TORCH, "triton", "numba"}, sorted(names & {*TORCH, "triton", "numba"})
    assert not any(name.startswith("nvidia-") for name in names)


@pytest.fixture
def no_torch(tmp_path) -> dict[str, str]:
    """An environment whose Python processes cannot import PyTorch, with ``auto`` settings and
    no weights anywhere the design's loaders look."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_TORCH)
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "SEGMENTER": "auto", "MATTER": "auto",
            "MASKRCNN_WEIGHTS": "", "FBA_WEIGHTS": "", "TORCH_HOME": str(tmp_path / "hub")}


def test_the_embedded_path_runs_where_torch_cannot_be_imported(no_torch, astronaut_png,
                                                               tmp_path):
    script = (
        "import sys\n"
        "from background_replacement import BackgroundReplacer\n"
        "replacer = BackgroundReplacer()\n"
        f"replacer.replace({str(ROOT / 'examples' / 'astronaut.png')!r}, save_as=sys.argv[1])\n"
        "loaded = [name for name, module in sys.modules.items()\n"
        "          if name.split('.')[0] == 'torch' and module is not None]\n"
        "print(replacer.segmenter.name, replacer.matter.name, loaded)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "api.png")], cwd=ROOT,
                          env={**os.environ, **no_torch}, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split()[:2] == ["pose", "closed-form"]
    assert done.stdout.decode().strip().endswith("[]")
    assert "PyTorch is not installed" in done.stderr.decode()  # auto says why it moved on
    done = subprocess.run([*PHOTO_COMMAND, "--local",
                           str(ROOT / "examples" / "astronaut.png"), str(tmp_path / "cli.png")],
                          cwd=ROOT, env={**os.environ, **no_torch}, capture_output=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert Image.open(tmp_path / "cli.png").size == Image.open(tmp_path / "api.png").size


def test_both_services_serve_where_torch_cannot_be_imported(no_torch, start_service,
                                                            astronaut_png):
    segmentation = start_service("segmentation_api", no_torch)
    matting = start_service("matting_api", {**no_torch, "SEGMENTATION_URL": segmentation.url})
    response = requests.post(matting.url + "/matte", files={"image": astronaut_png},
                             timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["X-Segmenter"] == "pose"
    assert response.headers["X-Matter"] == "closed-form"
    assert Image.open(io.BytesIO(response.content)).size == (512, 512)
    for service in (segmentation, matting):
        assert "Traceback" not in service.log()


def test_the_design_path_keeps_torch_in_its_extra():
    import tomllib

    extras = tomllib.loads(Path(ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(pin.startswith("torch==") for pin in extras["design"])
    assert not any(pin.split("=")[0] in TORCH for pin in extras["embedded"])


def test_no_extra_but_dev_brings_the_gpl_heic_encoder():
    """pillow-heif bundles x265 (GPL-2.0): only the test tools' extra may name it, and ``all``,
    every feature, does not include that extra."""
    import tomllib

    extras = tomllib.loads(Path(ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(pin.startswith("pillow-heif==") for pin in extras["dev"])
    for name, pins in extras.items():
        if name == "dev":
            continue
        assert not any(pin.startswith("pillow-heif") for pin in pins), name
        for pin in pins:
            included = re.findall(r"^background-replacement\[(.*)\]$", pin)
            assert not included or "dev" not in included[0].split(","), (name, pin)
