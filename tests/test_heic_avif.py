"""HEIC and AVIF photos, as phones write them (turned by an EXIF orientation tag), through every
way in: the services' /matte, /people and remove.bg endpoint, the command and the Python API.

The HEIC files are made with pillow-heif (the dev extra; its wheels bundle the GPL x265 encoder),
the AVIF files with Pillow itself; the project decodes HEIC with pi-heif only.
"""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
import requests
from PIL import Image

from background_replacement import BackgroundReplacer
from background_replacement.images import IMAGE_SUFFIXES, INPUT_FORMATS, load_photo
from testing.commands import PHOTO_COMMAND
from testing.launcher import ROOT
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow

ORIENTATION = 0x0112
UPRIGHT = (512, 384)  # width, height once the orientation is applied; stored 384 wide, 512 high


def upright_photo() -> Image.Image:
    """The astronaut cropped to 512×384: not square, so that a turn changes its size."""
    with Image.open(EXAMPLES / "astronaut.png") as image:
        return image.convert("RGB").crop((0, 64, 512, 448))


def phone_photo(fmt: str) -> bytes:
    """The upright photo stored turned a quarter left with orientation 6 ("turn it right to
    show it"), as a phone held upright writes it, encoded as ``fmt`` (HEIF or AVIF)."""
    stored = upright_photo().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    buffer = io.BytesIO()
    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif", reason="the dev extra makes HEIC files")
        pillow_heif.from_pillow(stored).save(buffer, quality=92, exif=exif.tobytes())
    else:
        stored.save(buffer, format="AVIF", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module", params=["HEIF", "AVIF"])
def photo(request) -> tuple[str, bytes]:
    return request.param, phone_photo(request.param)


@pytest.fixture(scope="module")
def replacer() -> BackgroundReplacer:
    return BackgroundReplacer({"segmenter": "selfie", "matter": "closed-form"})


def test_the_formats_and_their_suffixes_are_declared():
    assert {"HEIF", "AVIF"} <= set(INPUT_FORMATS)
    assert {".heic", ".heif", ".avif", ".jpg", ".png"} <= IMAGE_SUFFIXES


def test_decoded_upright_with_the_colours_of_the_photo(photo):
    fmt, data = photo
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == fmt
    decoded = load_photo(data).rgb
    assert decoded.shape == (UPRIGHT[1], UPRIGHT[0], 3), "the orientation is applied"
    difference = np.abs(decoded.astype(int) - np.asarray(upright_photo(), int))
    assert difference.mean() < 6, "upright, and the colours as they were (lossy: close)"


def alpha_of(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == UPRIGHT
        return np.asarray(image.convert("L"), np.float32) / 255


def test_matte_people_and_removebg_read_it_upright(photo, matting_service):
    fmt, data = photo
    name = f"phone.{'heic' if fmt == 'HEIF' else 'avif'}"
    matte = requests.post(matting_service.url + "/matte", files={"image": (name, data)},
                          data={"output": "alpha"}, timeout=120)
    assert matte.status_code == 200, matte.text[:300]
    alpha = alpha_of(matte.content)
    reference = requests.post(matting_service.url + "/matte", data={"output": "alpha"},
                              files={"image": encoded_png(upright_photo())}, timeout=120)
    assert np.abs(alpha - alpha_of(reference.content)).mean() < 0.03, "the same person, upright"

    people = requests.post(matting_service.url + "/people", files={"image": (name, data)},
                           timeout=120)
    assert people.status_code == 200, people.text[:300]
    assert (people.json()["width"], people.json()["height"]) == UPRIGHT

    removebg = requests.post(matting_service.url + "/v1.0/removebg",
                             files={"image_file": (name, data)}, data={"size": "auto"},
                             timeout=120)
    assert removebg.status_code == 200, removebg.text[:300]
    with Image.open(io.BytesIO(removebg.content)) as image:
        assert image.size == UPRIGHT

    preview = requests.post(matting_service.url + "/preview", files={"image": (name, data)},
                            timeout=60)
    assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(preview.content)) as image:
        assert image.size == UPRIGHT


def encoded_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_command_reads_it_upright(photo, matting_service, tmp_path):
    fmt, data = photo
    source = tmp_path / f"phone.{'heic' if fmt == 'HEIF' else 'avif'}"
    source.write_bytes(data)
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / source.name).write_bytes(data)
    server = ["--server", matting_service.url.removeprefix("http://")]
    for args in ([source, tmp_path / "out.png", *server], [folder, tmp_path / "outs", *server],
                 [source, tmp_path / "local.png", "--local"]):
        done = subprocess.run([*PHOTO_COMMAND, *map(str, args)], cwd=ROOT, capture_output=True,
                              timeout=240)
        assert done.returncode == 0, done.stderr.decode()[-500:]
    outs = list((tmp_path / "outs").iterdir())
    assert [out.suffix for out in outs] == [".png"], "the folder's photo is found and done"
    for written in (tmp_path / "out.png", tmp_path / "local.png", *outs):
        with Image.open(written) as image:
            assert image.size == UPRIGHT, written


def test_the_python_api_reads_it_upright(photo, replacer, tmp_path):
    fmt, data = photo
    path = tmp_path / f"phone.{'heic' if fmt == 'HEIF' else 'avif'}"
    path.write_bytes(data)
    answer = replacer.replace(path, output="alpha")
    assert isinstance(answer, Image.Image) and answer.size == UPRIGHT
    encoded = replacer.replace(data, output="cutout")
    with Image.open(io.BytesIO(encoded)) as image:  # no HEIC/AVIF encoder here: PNG
        assert image.format == "PNG" and image.size == UPRIGHT and image.mode == "RGBA"
