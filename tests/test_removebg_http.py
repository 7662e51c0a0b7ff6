"""``POST /v1.0/removebg`` against the real services, driven by remove.bg's own curl examples
(real curl) and by a remove.bg client library from the package index (remove-bg-api)."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import remove_bg_api
import requests
from PIL import Image

pytestmark = pytest.mark.slow

KEY = "any-key-when-none-are-configured"


@pytest.fixture(scope="module")
def photo(tmp_path_factory, astronaut_png) -> str:
    """The astronaut at 300×300 as a JPEG file, as remove.bg's examples send one."""
    path = tmp_path_factory.mktemp("removebg") / "astronaut.jpg"
    Image.open(io.BytesIO(astronaut_png)).convert("RGB").resize((300, 300)).save(path,
                                                                                 quality=95)
    return str(path)


@pytest.fixture(scope="module")
def endpoint(matting_service) -> str:
    return matting_service.url + "/v1.0/removebg"


def curl(url: str, *arguments: str, accept: str | None = None) -> tuple[int, dict, bytes]:
    """Run real curl as remove.bg's reference does (-F fields, X-API-Key); status, headers
    (lower-cased names), body."""
    accept_header = ["-H", f"Accept: {accept}"] if accept else []
    command = ["curl", "-sS", "-D", "-", "-H", f"X-API-Key: {KEY}", *accept_header, *arguments,
               url]
    output = subprocess.run(command, capture_output=True, timeout=120, check=True).stdout
    head, _, body = output.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in
               (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def image(body: bytes) -> Image.Image:
    return Image.open(io.BytesIO(body))


def error_code(body: bytes) -> str:
    errors = json.loads(body)["errors"]
    assert errors[0]["title"]
    return errors[0]["code"]


def test_png_cutout_at_the_asked_size(endpoint, photo):
    status, headers, body = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto")
    assert status == 200 and headers["content-type"] == "image/png"
    result = image(body)
    assert result.mode == "RGBA" and result.size == (300, 300)
    assert (headers["x-width"], headers["x-height"]) == ("300", "300")
    assert headers["x-type"] == "person" and headers["x-credits-charged"] == "0"
    alpha = np.asarray(result)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255
    rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
    assert int(headers["x-foreground-top"]) == rows[0]
    assert int(headers["x-foreground-left"]) == cols[0]
    assert int(headers["x-foreground-width"]) == cols[-1] - cols[0] + 1
    assert int(headers["x-foreground-height"]) == rows[-1] - rows[0] + 1


def test_preview_is_the_default_size(endpoint, astronaut_png):
    answer = requests.post(endpoint, files={"image_file": astronaut_png}, timeout=120)
    assert answer.status_code == 200
    width, height = image(answer.content).size  # 512×512 is over 0.25 megapixels
    assert width * height <= 250_000 and width == height and width >= 499
    assert answer.headers["X-Width"] == str(width)


def test_jpeg_over_a_colour(endpoint, photo):
    status, headers, body = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto",
                                 "-F", "bg_color=81d4fa", "-F", "format=jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    pixels = np.asarray(image(body).convert("RGB")).astype(int)
    alpha = np.asarray(image(curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto",
                                  "-F", "channels=alpha")[2]))
    background = pixels[alpha == 0]
    assert np.abs(background.mean(axis=0) - (0x81, 0xD4, 0xFA)).max() < 3


def test_auto_format_is_jpeg_when_nothing_is_transparent(endpoint, photo):
    status, headers, _ = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "bg_color=green")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    status, headers, body = curl(endpoint, "-F", f"image_file=@{photo}",
                                 "-F", "bg_color=81d4fa77")
    assert status == 200 and headers["content-type"] == "image/png"
    alpha = np.asarray(image(body))[..., 3]
    assert alpha.min() == 0x77 and alpha.max() == 255


def test_zip_holds_the_colours_and_the_matte(endpoint, photo):
    status, headers, body = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto",
                                 "-F", "format=zip")
    assert status == 200 and headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
    colour = image(archive.read("color.jpg"))
    matte = image(archive.read("alpha.png"))
    assert colour.format == "JPEG" and colour.mode == "RGB" and colour.size == (300, 300)
    assert matte.format == "PNG" and matte.mode == "L" and matte.size == (300, 300)
    png = np.asarray(image(curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto")[2]))
    assert np.abs(np.asarray(matte).astype(int) - png[..., 3]).max() <= 1


def test_channels_alpha_is_the_matte(endpoint, photo):
    status, headers, body = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto",
                                 "-F", "channels=alpha")
    assert status == 200 and headers["content-type"] == "image/png"
    matte = image(body)
    assert matte.mode == "L" and matte.size == (300, 300)
    values = np.asarray(matte)
    assert values.min() == 0 and values.max() == 255


def test_json_answer(endpoint, photo):
    status, headers, body = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto",
                                 accept="application/json")
    assert status == 200 and headers["content-type"] == "application/json"
    data = json.loads(body)["data"]
    result = image(base64.b64decode(data["result_b64"]))
    assert result.format == "PNG" and result.size == (300, 300)
    for name in ("top", "left", "width", "height"):
        assert data[f"foreground_{name}"] == int(headers[f"x-foreground-{name}"])


def test_crop_with_margins(endpoint, photo):
    full = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto")[1]
    status, headers, body = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto",
                                 "-F", "crop=true", "-F", "crop_margin=10px 5px")
    assert status == 200
    width, height = int(full["x-foreground-width"]), int(full["x-foreground-height"])
    left, top = int(full["x-foreground-left"]), int(full["x-foreground-top"])
    # No margin on a side where he touches the photo's edge (300×300): the sides and bottom.
    margins = (0 if top == 0 else 10, 0 if left + width == 300 else 5,
               0 if top + height == 300 else 10, 0 if left == 0 else 5)
    assert margins == (10, 0, 0, 0)
    assert image(body).size == (width + margins[1] + margins[3], height + margins[0] + margins[2])
    assert (headers["x-foreground-left"], headers["x-foreground-top"]) == ("0", "10")
    # The example of remove.bg's reference: cropped, over white, as JPEG, answered as JSON.
    status, _, body = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "crop=true",
                           "-F", "bg_color=FFFFFF", "-F", "format=jpg",
                           accept="application/json")
    assert status == 200
    assert image(base64.b64decode(json.loads(body)["data"]["result_b64"])).format == "JPEG"


def test_roi_scale_and_position(endpoint, photo):
    status, headers, _ = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto",
                              "-F", "roi=0% 0% 50% 100%")
    assert status == 200
    assert int(headers["x-foreground-left"]) + int(headers["x-foreground-width"]) <= 150
    status, headers, _ = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto",
                              "-F", "scale=50%", "-F", "position=0% 100%")
    assert status == 200 and headers["x-width"] == "300"
    assert int(headers["x-foreground-left"]) == 0
    assert int(headers["x-foreground-top"]) + int(headers["x-foreground-height"]) == 300
    assert max(int(headers["x-foreground-width"]), int(headers["x-foreground-height"])) <= 151


def test_background_image_upload(endpoint, photo, tmp_path):
    backdrop = tmp_path / "backdrop.png"
    Image.new("RGB", (64, 32), (250, 10, 10)).save(backdrop)
    status, _, body = curl(endpoint, "-F", f"image_file=@{photo}", "-F", "size=auto",
                           "-F", f"bg_image_file=@{backdrop}", "-F", "format=png")
    assert status == 200
    result = np.asarray(image(body))
    assert result.shape == (300, 300, 4) and (result[..., 3] == 255).all()
    assert tuple(result[0, 0, :3]) == (250, 10, 10)


def test_base64_in_urlencoded_and_json_bodies(endpoint, photo):
    encoded = base64.b64encode(Path(photo).read_bytes()).decode()
    status, headers, _ = curl(endpoint, "--data-urlencode", f"image_file_b64={encoded}",
                              "-d", "size=auto")
    assert status == 200 and headers["x-width"] == "300"
    status, headers, _ = curl(endpoint, "-H", "Content-Type: application/json", "-d",
                              json.dumps({"image_file_b64": encoded, "size": "medium",
                                          "crop": True}))
    assert status == 200  # cropped: the foreground fills the result
    assert headers["x-width"] == headers["x-foreground-width"]
    assert headers["x-height"] == headers["x-foreground-height"]


def test_base64_over_the_text_field_limit(endpoint, tmp_path):
    """A base64 image past the 1 MiB text-field limit of the other routes is read: this noise
    is answered as a picture without a person, not as too large."""
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (700, 700, 3), np.uint8)).save(
        noise)
    encoded = base64.b64encode(noise.read_bytes()).decode()
    assert len(encoded) > 1024 * 1024
    field = tmp_path / "field.txt"
    field.write_text(encoded)
    status, _, body = curl(endpoint, "-F", f"image_file_b64=<{field}")  # a multipart text field
    assert status == 400 and error_code(body) == "unknown_foreground"


@pytest.mark.parametrize(("fields", "code"), [
    (["-F", "image_url=https://www.remove.bg/example.jpg"], "image_url_not_supported"),
    (["-F", "@IMAGE", "-F", "bg_image_url=https://example.com/b.jpg"],
     "bg_image_url_not_supported"),
    (["-F", "@IMAGE", "-F", "type=car"], "unsupported_type"),
    (["-F", "@IMAGE", "-F", "size=8k"], "invalid_size"),
    (["-F", "@IMAGE", "-F", "bg_color=chartreuse-ish"], "invalid_bg_color"),
    (["-F", "@IMAGE", "-F", "bg_color=fff", "-F", "bg_image_file=@IMAGE_PATH"],
     "multiple_bg_sources"),
    (["-F", "@IMAGE", "-F", "image_file_b64=aGVsbG8="], "multiple_sources"),
    (["-F", "size=auto"], "missing_source"),
    (["-F", "image_file=@NOT_AN_IMAGE"], "invalid_file_type"),
    (["-F", "@IMAGE", "-F", "crop=true", "-F", "crop_margin=900px"], "invalid_crop_margin"),
    (["-F", "@IMAGE", "-F", "roi=0px 0px 301px 10px"], "roi_exceeds_bounds"),
    (["-F", "image_file=@PLAIN"], "unknown_foreground"),
])
def test_refusals_in_remove_bg_shape(endpoint, photo, tmp_path, fields, code):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (64, 64), (30, 160, 40)).save(plain)
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    replace = {"@IMAGE": f"image_file=@{photo}", "bg_image_file=@IMAGE_PATH":
               f"bg_image_file=@{photo}", "image_file=@NOT_AN_IMAGE": f"image_file=@{text}",
               "image_file=@PLAIN": f"image_file=@{plain}"}
    status, headers, body = curl(endpoint, *(replace.get(f, f) for f in fields))
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    assert error_code(body) == code


def test_remove_bg_client_library(monkeypatch, matting_service, photo):
    """remove-bg-api talks to its module's API_URL: pointed at this server, nothing else
    changes (it reads /v1.0/account when built)."""
    monkeypatch.setattr(remove_bg_api, "API_URL", matting_service.url + "/v1.0")
    client = remove_bg_api.RemoveBg(KEY)
    assert client.account.balance() == 0
    cutout = image(client.remove_bg_file(photo, size="full", raw=True))
    assert cutout.mode == "RGBA" and cutout.size == (300, 300)
    jpeg = image(client.remove_bg_file(photo, raw=True, data={
        "size": "auto", "format": "jpg", "bg_color": "white", "crop": "true",
        "crop_margin": "20px"}))
    # He touches the photo's sides and bottom: the one margin is on top, and white.
    assert jpeg.format == "JPEG" and jpeg.size[0] == 300
    assert (np.asarray(jpeg)[:15] > 245).all()
    encoded = base64.b64encode(Path(photo).read_bytes()).decode()
    assert image(client.remove_bg_base64(encoded, raw=True)).format == "PNG"
    with pytest.raises(remove_bg_api.Errors.ApiErrorCode400):
        client.remove_bg_url("https://www.remove.bg/example.jpg")
    with pytest.raises(remove_bg_api.Errors.ApiErrorCode400):
        client.remove_bg_file(photo, data={"type": "car"})


def test_overload_gets_503_with_retry_after_in_remove_bg_shape(start_service,
                                                               segmentation_service,
                                                               astronaut_png):
    matting = start_service("matting_api", {"MATTER": "closed-form", "MAX_IN_FLIGHT": "1",
                                            "RETRY_AFTER": "3", "QUEUE_TIMEOUT": "0",
                                            "SEGMENTATION_URL": segmentation_service.url})
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: requests.post(
            matting.url + "/v1.0/removebg", files={"image_file": astronaut_png},
            data={"size": "full"}, timeout=120), range(4)))
    statuses = sorted(a.status_code for a in answers)
    assert 200 in statuses and 503 in statuses, statuses
    refused = next(a for a in answers if a.status_code == 503)
    assert refused.headers["Retry-After"] == "3"
    assert refused.json()["errors"][0]["code"] == "overloaded"


def test_add_shadow_darkens_the_ground_only_under_a_background(endpoint, photo):
    placed = ["-F", f"image_file=@{photo}", "-F", "size=auto", "-F", "scale=60%",
              "-F", "position=center", "-F", "format=png"]
    _, plain_headers, plain = curl(endpoint, *placed, "-F", "bg_color=d0d0d0")
    status, headers, shadowed = curl(endpoint, *placed, "-F", "bg_color=d0d0d0",
                                     "-F", "add_shadow=true")
    assert status == 200 and headers["x-effects"] == "shadow=0.6, shadow_angle=0"
    assert plain_headers["x-effects"] == "none"
    darker = (np.asarray(image(plain).convert("RGB")).astype(int)
              - np.asarray(image(shadowed).convert("RGB")))
    assert darker.min() >= 0 and darker.max() > 40
    rows = np.nonzero(darker.max(axis=(1, 2)) > 10)[0]
    bottom = int(headers["x-foreground-top"]) + int(headers["x-foreground-height"])
    assert rows.max() >= bottom - 1, "a contact shadow under the person"
    _, _, clear = curl(endpoint, *placed)
    status, headers, transparent = curl(endpoint, *placed, "-F", "add_shadow=true")
    assert status == 200 and headers["x-effects"] == "none" and transparent == clear


def test_no_crop_margin_where_the_person_touches_the_photos_edge(endpoint, astronaut_png,
                                                                  tmp_path):
    """A person cut off by the photo's bottom stays cut off there: crop_margin goes on the
    other sides only, as remove.bg does (no band of background under them)."""
    person = Image.open(io.BytesIO(astronaut_png)).convert("RGB").resize((300, 300))
    framed = Image.new("RGB", (400, 340), (128, 128, 128))
    framed.paste(person, (50, 40))  # grey above and beside him; his bottom edge is the photo's
    path = tmp_path / "framed.png"
    framed.save(path)
    status, full, _ = curl(endpoint, "-F", f"image_file=@{path}", "-F", "size=auto")
    assert status == 200
    box = {side: int(full[f"x-foreground-{side}"]) for side in ("left", "top", "width",
                                                              "height")}
    assert box["top"] > 0 and box["left"] > 0 and box["top"] + box["height"] == 340
    status, _, body = curl(endpoint, "-F", f"image_file=@{path}", "-F", "size=auto",
                           "-F", "crop=true", "-F", "crop_margin=10%")
    assert status == 200
    result = np.asarray(image(body))
    top, side = round(0.1 * box["height"]), round(0.1 * box["width"])
    assert result.shape[:2] == (box["height"] + top, box["width"] + 2 * side)
    assert result[-1, :, 3].max() == 255  # he reaches the result's bottom edge
    assert result[:top, :, 3].max() == 0  # the margin above him is there, and empty


def test_nobody_found_gives_advice_this_route_honours(endpoint, tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (64, 64), (30, 160, 40)).save(plain)
    status, _, body = curl(endpoint, "-F", f"image_file=@{plain}")
    assert status == 400 and error_code(body) == "unknown_foreground"
    title = json.loads(body)["errors"][0]["title"]
    assert "if_no_person" not in title and title.startswith("No person was found")
