"""`remove-background --local` (the core in the command's process, no service) and the
``REMOVE_BACKGROUND_SERVER`` environment variable, run as a user runs them: a subprocess."""

from __future__ import annotations

import io
import os
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from background_replacement.client.matting_client import SERVER_VARIABLE
from testing.commands import PHOTO_COMMAND, VIDEO_COMMAND
from testing.launcher import ROOT

pytestmark = pytest.mark.slow

EMBEDDED = {"SEGMENTER": "selfie", "MATTER": "closed-form"}


def closed_port() -> str:
    """HOST:PORT where nothing listens (a port just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def run(*args, env: dict[str, str] | None = None, command: list[str] = PHOTO_COMMAND,
        timeout: float = 240) -> subprocess.CompletedProcess:
    """The command with ``env`` added to this environment; it never prints a traceback."""
    done = subprocess.run([*command, *map(str, args)], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True,
                          timeout=timeout)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())))


@pytest.fixture(scope="module")
def photo_rgb(astronaut_png) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(astronaut_png)).convert("RGB").resize((256, 256)))


def save(rgb: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def test_local_does_a_photo_and_a_folder_with_no_service_anywhere(photo_rgb, tmp_path):
    # The server the environment names is closed: any request would fail the photo.
    env = {**EMBEDDED, SERVER_VARIABLE: closed_port()}
    photo = save(photo_rgb, tmp_path / "astronaut.png")
    done = run(photo, tmp_path / "cutout.webp", "--local", "--output-kind", "cutout", env=env)
    assert done.returncode == 0, done.stderr.decode()
    cutout = pixels(tmp_path / "cutout.webp")
    assert cutout.shape == (256, 256, 4)
    assert cutout[..., 3].min() == 0 and cutout[..., 3].max() == 255

    photos, results = tmp_path / "in", tmp_path / "out"
    save(photo_rgb, photos / "a.png")
    save(photo_rgb[:, ::-1].copy(), photos / "2024" / "b.jpg")
    done = run(photos, results, "--local", "--jobs", "2", "--background", "navy", env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert "wrote 2 of 2 images" in done.stderr.decode()
    for result in (results / "a.png", results / "2024" / "b.png"):
        composite = pixels(result)
        assert composite.shape == (256, 256, 3)
        assert tuple(composite[0, 0]) == (0, 0, 128)  # navy in the corner, away from him


def test_local_gives_what_the_service_gives_for_the_same_options(matting_service, photo_rgb,
                                                                 tmp_path):
    photo = save(photo_rgb, tmp_path / "astronaut.png")
    def local_and_served(*options: str) -> None:
        local = run(photo, tmp_path / "local.png", "--local", *options, env=EMBEDDED)
        served = run(photo, tmp_path / "served.png", *options,
                     env={SERVER_VARIABLE: matting_service.url.removeprefix("http://")})
        assert local.returncode == 0 and served.returncode == 0, local.stderr + served.stderr
        difference = np.abs(pixels(tmp_path / "local.png").astype(int)
                            - pixels(tmp_path / "served.png").astype(int))
        assert difference.max() <= 1

    local_and_served("--output-kind", "alpha", "--people", "largest", "--fg-threshold", "0.85")
    assert "POST /matte" in matting_service.log()
    # The composite's effects (issue 28's options) too.
    effects = ["--background", "studio", "--harmonise", "1", "--light-wrap", "0.5",
               "--shadow", "0.6"]
    local_and_served(*effects)
    plain = run(photo, tmp_path / "plain.png", "--local", "--background", "studio", env=EMBEDDED)
    assert plain.returncode == 0, plain.stderr
    assert np.abs(pixels(tmp_path / "plain.png").astype(int)
                  - pixels(tmp_path / "local.png").astype(int)).max() > 10  # effects applied


def test_local_failures_are_named_and_the_others_written(photo_rgb, tmp_path):
    photos = tmp_path / "in"
    save(photo_rgb, photos / "person.png")
    save(np.full((64, 64, 3), 128, np.uint8), photos / "nobody.png")
    (photos / "broken.jpg").write_bytes(b"not a photo")
    done = run(photos, tmp_path / "out", "--local", env=EMBEDDED)
    text = done.stderr.decode()
    assert done.returncode == 1, text
    assert "wrote 1 of 3 images" in text and "2 failed" in text
    assert "nobody.png: No person was found" in text
    assert "broken.jpg: it is not an image" in text
    assert (tmp_path / "out" / "person.png").exists()


def test_a_backend_that_cannot_load_stops_local_before_any_photo(photo_rgb, tmp_path):
    photo = save(photo_rgb, tmp_path / "astronaut.png")
    done = run(photo, tmp_path / "out.png", "--local",
               env={"SEGMENTER": "maskrcnn", "MASKRCNN_WEIGHTS": str(tmp_path / "none.pth"),
                    "MATTER": "closed-form"})
    assert done.returncode == 1
    assert "none.pth" in done.stderr.decode()
    assert not (tmp_path / "out.png").exists()


def test_the_server_comes_from_the_environment_and_help_says_so(matting_service, photo_rgb,
                                                                tmp_path):
    photo = save(photo_rgb, tmp_path / "astronaut.png")
    address = matting_service.url.removeprefix("http://")
    before = matting_service.log().count("POST /matte")
    done = run(photo, tmp_path / "out.png", env={SERVER_VARIABLE: address})
    assert done.returncode == 0, done.stderr.decode()
    assert matting_service.log().count("POST /matte") == before + 1
    # --server still wins over the environment.
    done = run(photo, tmp_path / "out.png", "--server", address,
               env={SERVER_VARIABLE: closed_port()})
    assert done.returncode == 0, done.stderr.decode()
    for command in (PHOTO_COMMAND, VIDEO_COMMAND):
        shown = run("--help", command=command, env={SERVER_VARIABLE: "example.org:8080"})
        text = " ".join(shown.stdout.decode().split())
        assert SERVER_VARIABLE in text and "now example.org:8080" in text, text
