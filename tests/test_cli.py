"""The `remove-background` command as a user runs it: a subprocess against real services
(embedded backends), one test for each case of the command line."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from testing.commands import PHOTO_COMMAND
from testing.launcher import ROOT

pytestmark = pytest.mark.slow


def address(service) -> str:
    """The service as people type it: HOST:PORT, no scheme (the command adds http://)."""
    return service.url.removeprefix("http://")


def cli(*args, service=None, stdin: bytes | None = None,
        timeout: float = 240) -> subprocess.CompletedProcess:
    """Run the command; it never prints a traceback, whatever happens."""
    server = ["--server", address(service)] if service is not None else []
    done = subprocess.run([*PHOTO_COMMAND, *map(str, args), *server], cwd=ROOT, input=stdin,
                          capture_output=True, timeout=timeout)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done


def err(done: subprocess.CompletedProcess) -> str:
    return done.stderr.decode()


def pixels(data: bytes | Path) -> np.ndarray:
    raw = data.read_bytes() if isinstance(data, Path) else data
    return np.asarray(Image.open(io.BytesIO(raw)))


def save(rgb: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def posts(service) -> int:
    """How many POST /matte the service has logged."""
    return service.log().count("POST /matte")


@pytest.fixture(scope="module")
def photo_rgb(astronaut_png) -> np.ndarray:
    """The astronaut at 256×256: small enough to be quick, a person the selfie model finds."""
    return np.asarray(Image.open(io.BytesIO(astronaut_png)).convert("RGB").resize((256, 256)))


@pytest.fixture
def photo(tmp_path, photo_rgb) -> Path:
    return save(photo_rgb, tmp_path / "astronaut.png")


def test_help_states_the_exit_statuses_and_version_is_the_package_version():
    shown = cli("--help")
    assert shown.returncode == 0
    text = shown.stdout.decode()
    assert re.search(r"^\s+0\s+every photo was written", text, re.M)
    assert re.search(r"^\s+1\s+some photos failed", text, re.M)
    assert re.search(r"^\s+2\s+usage error", text, re.M)
    for option in ("--output-kind", "--format", "--if-no-person", "--kernel-size", "--flat",
                   "--skip-existing", "--jobs", "--watch", "--server"):
        assert option in text
    version = cli("--version")
    assert version.stdout.decode().strip() == (
        f"remove-background {metadata.version('background-replacement')}")


def test_stdin_to_stdout_and_stdin_to_a_file(matting_service, photo, tmp_path):
    assert cli(photo, tmp_path / "file.png", service=matting_service).returncode == 0
    expected = pixels(tmp_path / "file.png")
    piped = cli("-", "-", service=matting_service, stdin=photo.read_bytes())
    assert piped.returncode == 0, err(piped)
    assert piped.stdout[:8] == b"\x89PNG\r\n\x1a\n"  # PNG unless --format says otherwise
    np.testing.assert_array_equal(pixels(piped.stdout), expected)
    as_jpeg = cli(photo, "-", "--format", "jpeg", service=matting_service)
    assert as_jpeg.stdout[:3] == b"\xff\xd8\xff"
    to_file = cli("-", tmp_path / "piped.webp", service=matting_service,
                  stdin=photo.read_bytes())
    assert to_file.returncode == 0, err(to_file)
    assert Image.open(tmp_path / "piped.webp").format == "WEBP"
    empty = cli("-", "-", service=matting_service, stdin=b"")
    assert empty.returncode == 2 and "stdin is empty" in err(empty)


def test_a_folder_tree_is_mirrored_or_flattened(matting_service, photo_rgb, tmp_path):
    source = tmp_path / "in"
    for name in ("a.jpg", "sub/a.jpg", "sub/deeper/b.png", ".hidden/c.png"):
        save(photo_rgb, source / name)
    (source / "notes.txt").write_text("not a photo")
    mirrored = cli(source, tmp_path / "mirrored", service=matting_service)
    assert mirrored.returncode == 0, err(mirrored)
    written = sorted(str(p.relative_to(tmp_path / "mirrored"))
                     for p in (tmp_path / "mirrored").rglob("*") if p.is_file())
    assert written == ["a.png", "sub/a.png", "sub/deeper/b.png"]
    assert "wrote 3 of 3 images" in err(mirrored)
    flat = cli(source, tmp_path / "flat", "--flat", service=matting_service)
    assert flat.returncode == 0, err(flat)
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == [
        "a.jpg-1.png", "a.jpg.png", "b.png"]
    assert "wrote 3 of 3 images" in err(flat)
    assert f"{source / 'a.jpg'} -> {tmp_path / 'flat' / 'a.jpg.png'}" in err(flat)
    assert f"{source / 'sub' / 'a.jpg'} -> {tmp_path / 'flat' / 'a.jpg-1.png'}" in err(flat)


def test_two_photos_with_one_stem_both_keep_their_results(matting_service, photo_rgb, tmp_path):
    source = tmp_path / "in"
    save(photo_rgb, source / "astronaut.jpg")
    save(photo_rgb[:, ::-1], source / "astronaut.webp")  # mirrored: a different result
    done = cli(source, tmp_path / "out", service=matting_service)
    assert done.returncode == 0, err(done)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "astronaut.jpg.png", "astronaut.webp.png"]
    from_jpeg = pixels(tmp_path / "out" / "astronaut.jpg.png")
    from_webp = pixels(tmp_path / "out" / "astronaut.webp.png")
    assert np.abs(from_jpeg[:, ::-1].astype(int) - from_webp).mean() < 8  # each its own photo
    assert not np.array_equal(from_jpeg, from_webp)
    assert "wrote 2 of 2 images" in err(done)
    assert "2 named apart" in err(done)


def test_folder_into_a_file_is_a_usage_error_and_a_file_goes_into_a_folder(
        matting_service, photo, tmp_path):
    folder = photo.parent
    blocking = tmp_path / "result.png"
    blocking.write_bytes(b"")
    refused = cli(folder, blocking, service=matting_service)
    assert refused.returncode == 2
    assert "is a file; a folder's results need a folder" in err(refused)
    into = tmp_path / "results"
    into.mkdir()
    done = cli(photo, into, service=matting_service)
    assert done.returncode == 0, err(done)
    assert Image.open(into / "astronaut.png").size == (256, 256)


def test_a_missing_background_file_is_an_error_and_never_sent(matting_service, photo,
                                                              tmp_path):
    before = posts(matting_service)
    for typo in ("beach.jpg", str(tmp_path / "nothing" / "sky"), "holiday/beach"):
        done = cli(photo, tmp_path / "out.png", "--background", typo, service=matting_service)
        assert done.returncode == 2, err(done)
        assert f"--background {typo!r}: no such file" in err(done)
    unknown = cli(photo, tmp_path / "out.png", "--background", "beech", service=matting_service)
    assert unknown.returncode == 2 and "it has: green" in err(unknown)
    assert posts(matting_service) == before
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("spec, rgb", [("red", (255, 0, 0)), ("rebeccapurple", (102, 51, 153)),
                                       ("#24f", (0x22, 0x44, 0xff)),
                                       ("#2040ff", (0x20, 0x40, 0xff)),
                                       ("rgb(10, 200, 30)", (10, 200, 30)),
                                       ("hsl(0, 100%, 50%)", (255, 0, 0))])
def test_css_colours_are_the_background(matting_service, photo, tmp_path, spec, rgb):
    done = cli(photo, tmp_path / "out.png", "--background", spec, service=matting_service)
    assert done.returncode == 0, err(done)
    corner = pixels(tmp_path / "out.png")[:12, :12]
    assert np.all(corner == rgb), corner[0, 0]


def test_a_background_picture_is_uploaded(matting_service, photo, tmp_path):
    picture = save(np.full((64, 64, 3), (10, 20, 250), np.uint8), tmp_path / "bg" / "blue.png")
    done = cli(photo, tmp_path / "out.png", "--background", picture, service=matting_service)
    assert done.returncode == 0, err(done)
    assert np.all(pixels(tmp_path / "out.png")[:12, :12] == (10, 20, 250))


def test_server_without_a_scheme_and_bad_servers(matting_service, photo, tmp_path):
    done = cli(photo, tmp_path / "out.png", service=matting_service)  # HOST:PORT, as always here
    assert done.returncode == 0 and f"wrote {tmp_path / 'out.png'}" in err(done)
    bad = cli(photo, tmp_path / "x.png", "--server", "ftp://127.0.0.1:21")
    assert bad.returncode == 2 and "--server" in err(bad)
    down = cli(photo, tmp_path / "x.png", "--server", "127.0.0.1:9")
    assert down.returncode == 1
    assert "cannot reach the matting service at http://127.0.0.1:9" in err(down)


def test_if_no_person(matting_service, tmp_path):
    nobody = save(np.full((96, 128, 3), 180, np.uint8), tmp_path / "wall.png")
    refused = cli(nobody, tmp_path / "refused.png", service=matting_service)
    assert refused.returncode == 1
    assert "no_person" in err(refused) and not (tmp_path / "refused.png").exists()
    kept = cli(nobody, tmp_path / "kept.png", "--if-no-person", "original",
               service=matting_service)
    assert kept.returncode == 0, err(kept)
    np.testing.assert_array_equal(pixels(tmp_path / "kept.png"), pixels(nobody))


def test_trimap_parameters_reach_the_service_and_are_checked(matting_service, photo, tmp_path):
    default = cli(photo, tmp_path / "default.png", "--output-kind", "trimap",
                  service=matting_service)
    wider = cli(photo, tmp_path / "wider.png", "--output-kind", "trimap",
                "--erode-iterations", "15", "--dilate-iterations", "15",
                service=matting_service)
    assert default.returncode == 0 and wider.returncode == 0, err(wider)
    unknown = {name: int((pixels(tmp_path / name) == 128).sum())
               for name in ("default.png", "wider.png")}
    assert unknown["wider.png"] > 1.5 * unknown["default.png"] > 0
    for args, message in ((["--kernel-size", "0"], "must be between 1 and 51"),
                          (["--fg-threshold", "x"], "must be a number"),
                          (["--bg-threshold", "0.9", "--fg-threshold", "0.8"],
                           "must be below 'fg_threshold'")):
        done = cli(photo, tmp_path / "x.png", *args, service=matting_service)
        assert done.returncode == 2 and message in err(done), err(done)


def test_people_points_and_hint_reach_the_service_and_are_checked(matting_service,
                                                                   two_people_png, tmp_path):
    photo = tmp_path / "two.png"
    photo.write_bytes(two_people_png)
    hint = np.zeros((400, 680, 4), np.uint8)
    hint[5:45, 320:360] = (255, 255, 255, 255)  # keep a piece of the grey gap between them
    hint_file = tmp_path / "hint.png"
    Image.fromarray(hint).save(hint_file)

    def served(**fields) -> np.ndarray:
        files = {"image": two_people_png}
        if "hint" in fields:
            files["hint"] = fields.pop("hint")
        response = requests.post(matting_service.url + "/matte", files=files, timeout=120,
                                 data={"output": "alpha", **fields})
        assert response.status_code == 200, response.text
        return pixels(response.content)

    everyone = served()
    for args, fields in ((["--people", "1"], {"people": "1"}),
                         (["--people", "largest"], {"people": "largest"}),
                         (["--point", "120,300"], {"points": "120,300"}),
                         (["--hint", hint_file], {"hint": hint_file.read_bytes()})):
        done = cli(photo, tmp_path / "alpha.png", "-k", "alpha", *args, service=matting_service)
        assert done.returncode == 0, err(done)
        expected = served(**fields).astype(int)
        assert np.abs(pixels(tmp_path / "alpha.png") - expected).max() <= 1, args
        assert np.abs(expected - everyone).max() > 100, args
    for args, message in ((["--people", "two"], "--people must be all, largest"),
                          (["--point", "120"], "must be X,Y"),
                          (["--hint", tmp_path / "none.png"], "cannot read --hint"),
                          (["--people", "5"], "no_such_person")):
        done = cli(photo, tmp_path / "x.png", *args, service=matting_service)
        assert done.returncode == (1 if "no_such" in message else 2), err(done)
        assert message in err(done), (args, err(done))
    folder = cli(tmp_path, tmp_path / "out", "--hint", hint_file, service=matting_service)
    assert folder.returncode == 2 and "INPUT is a folder" in err(folder), err(folder)


def test_output_kind_and_its_old_name(matting_service, photo, tmp_path):
    for option in ("--output-kind", "-k", "--output"):
        done = cli(photo, tmp_path / "cutout.png", option, "cutout", service=matting_service)
        assert done.returncode == 0, err(done)
        assert Image.open(tmp_path / "cutout.png").mode == "RGBA"
    jpeg = cli(photo, tmp_path / "cutout.jpg", "-k", "cutout", service=matting_service)
    assert jpeg.returncode == 2 and "JPEG has no alpha channel" in err(jpeg)


def test_skip_existing_and_an_output_folder_inside_the_input(matting_service, photo_rgb,
                                                             tmp_path):
    source = tmp_path / "in"
    for name in ("a.png", "b.png"):
        save(photo_rgb, source / name)
    first = cli(source, source / "results", service=matting_service)
    assert first.returncode == 0 and "wrote 2 of 2 images" in err(first)
    (source / "results" / "b.png").unlink()
    stamp = (source / "results" / "a.png").stat().st_mtime_ns
    before = posts(matting_service)
    again = cli(source, source / "results", "--skip-existing", service=matting_service)
    assert again.returncode == 0, err(again)
    assert "wrote 1 of 2 images" in err(again) and "1 skipped" in err(again)
    assert posts(matting_service) == before + 1  # b only; results/ is never an input
    assert (source / "results" / "a.png").stat().st_mtime_ns == stamp
    assert (source / "results" / "b.png").is_file()


def test_usage_errors_exit_2_with_a_message(matting_service, photo, tmp_path):
    cases = [((tmp_path / "missing.jpg", tmp_path / "o.png"), "does not exist"),
             ((photo, tmp_path / "noextension"), "cannot tell the format"),
             ((photo.parent, "-"), "cannot go to stdout"),
             ((photo.parent, photo.parent), "OUTPUT is INPUT"),
             ((photo, tmp_path / "o.png", "--watch"), "--watch needs a folder"),
             ((photo, tmp_path / "o.png", "--jobs", "0"), "must be a whole number"),
             ((photo, tmp_path / "o.png", "--background", "#12"), "is not a colour")]
    for args, message in cases:
        done = cli(*args, service=matting_service)
        assert done.returncode == 2 and message in err(done), (args, err(done))


def test_a_failed_photo_is_named_and_the_others_are_written(matting_service, photo_rgb,
                                                            tmp_path):
    source = tmp_path / "in"
    save(photo_rgb, source / "good.png")
    (source / "broken.jpg").write_bytes(b"not a jpeg")
    done = cli(source, tmp_path / "out", service=matting_service)
    assert done.returncode == 1
    assert f"error: {source / 'broken.jpg'}:" in err(done) and "not an image" in err(done)
    assert "wrote 1 of 2 images" in err(done) and "1 failed" in err(done)
    assert (tmp_path / "out" / "good.png").is_file()


@pytest.fixture
def one_at_a_time(start_service, segmentation_service):
    """A matting service that works on one photo at a time and refuses a second at once with
    503 + Retry-After: 1."""
    return start_service("matting_api", {
        "MATTER": "closed-form", "SEGMENTATION_URL": segmentation_service.url,
        "MAX_IN_FLIGHT": "1", "QUEUE_TIMEOUT": "0", "RETRY_AFTER": "1"})


def four_photos(folder: Path, photo_rgb: np.ndarray) -> Path:
    for index in range(4):
        save(np.roll(photo_rgb, 8 * index, axis=1), folder / f"p{index}.png")
    return folder


def test_parallel_requests_follow_the_service_limit_and_retry_after(one_at_a_time, photo_rgb,
                                                                    tmp_path):
    source = four_photos(tmp_path / "in", photo_rgb)
    sized = cli(source, tmp_path / "sized", service=one_at_a_time)  # --jobs from /healthz: 1
    assert sized.returncode == 0, err(sized)
    assert '" 503' not in one_at_a_time.log()
    crowded = cli(source, tmp_path / "crowded", "--jobs", "4", service=one_at_a_time)
    assert crowded.returncode == 0, err(crowded)
    assert "wrote 4 of 4 images" in err(crowded)
    assert len(list((tmp_path / "crowded").iterdir())) == 4
    assert '" 503 ' in one_at_a_time.log()  # it refused some, and each was retried


def test_sigterm_stops_a_folder_run_cleanly(one_at_a_time, photo_rgb, tmp_path):
    source = four_photos(tmp_path / "in", photo_rgb)
    results = tmp_path / "out"
    log = tmp_path / "run.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*PHOTO_COMMAND, str(source), str(results),
             "--jobs", "1", "--server", address(one_at_a_time)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (results / "p0.png").exists() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=120) == 130
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = log.read_text()
    assert "Traceback" not in text
    written = sorted(p.name for p in results.iterdir())
    assert "p0.png" in written and len(written) < 4  # what was sent finished; no partial files
    assert f"wrote {len(written)} of 4 images" in text and "not started" in text


class _DateGateway(BaseHTTPRequestHandler):
    """A gateway in front of the service that passes every request on and rewrites a
    Retry-After in seconds into the HTTP-date it means, as some proxies do."""

    upstream = ""
    dates: list[str]

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = requests.post(self.upstream + self.path, data=body, timeout=120,
                               headers={"Content-Type": self.headers["Content-Type"]})
        self.send_response(answer.status_code)
        for name in ("Content-Type", "X-People-Count"):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        if "Retry-After" in answer.headers:
            date = formatdate(time.time() + 1 + int(answer.headers["Retry-After"]), usegmt=True)
            self.dates.append(date)
            self.send_header("Retry-After", date)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def do_GET(self):
        answer = requests.get(self.upstream + self.path, timeout=30)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers["Content-Type"])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args):
        pass


def test_retry_after_as_an_http_date(one_at_a_time, photo_rgb, tmp_path):
    handler = type("Gateway", (_DateGateway,), {"upstream": one_at_a_time.url, "dates": []})
    gateway = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=gateway.serve_forever, daemon=True)
    thread.start()
    try:
        source = four_photos(tmp_path / "in", photo_rgb)
        done = cli(source, tmp_path / "out", "--jobs", "4", "--server",
                   f"127.0.0.1:{gateway.server_address[1]}")
    finally:
        gateway.shutdown()
        gateway.server_close()
        thread.join()
    assert done.returncode == 0, err(done)
    assert "wrote 4 of 4 images" in err(done)
    assert handler.dates and all(date.endswith(" GMT") for date in handler.dates)


def test_watch_mode_processes_new_photos_once_written_and_stops_on_sigterm(
        matting_service, photo_rgb, tmp_path):
    watched, results = tmp_path / "in", tmp_path / "out"
    save(photo_rgb, watched / "before.png")
    encoded = io.BytesIO()
    Image.fromarray(photo_rgb).save(encoded, format="JPEG")
    jpeg = encoded.getvalue()
    log = tmp_path / "watch.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*PHOTO_COMMAND, str(watched), str(results),
             "--watch", "--server", address(matting_service)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "watching" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
        assert "watching" in log.read_text()
        with (watched / "slow.jpg").open("wb") as slow:  # a writer that pauses half-way
            slow.write(jpeg[: len(jpeg) // 2])
            slow.flush()
            time.sleep(2)
            slow.write(jpeg[len(jpeg) // 2:])
        (watched / "new").mkdir()
        staged = tmp_path / "staged.jpg"
        staged.write_bytes(jpeg)
        staged.rename(watched / "new" / "moved.jpg")  # lands whole, in a new folder
        (watched / "notes.txt").write_text("not a photo")
        expected = [results / "before.png", results / "slow.png", results / "new" / "moved.png"]
        deadline = time.monotonic() + 90
        while not all(p.exists() for p in expected) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(p.exists() for p in expected), log.read_text()
        for path in expected:
            assert pixels(path).shape == (256, 256, 3)
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = log.read_text()
    assert "Traceback" not in text and "error:" not in text, text
    assert "wrote 3 of 3 images" in text


def test_effects_reach_the_service_and_are_checked(matting_service, photo, tmp_path):
    plain = cli(photo, tmp_path / "plain.png", "--background", "navy",
                service=matting_service)
    # The astronaut is cut off by the picture's bottom edge: that is the ground they stand on,
    # and the shadow leaning 45° shows beside them.
    shadow = cli(photo, tmp_path / "shadow.png", "--background", "navy", "--shadow", "1",
                 "--shadow-angle", "-45", service=matting_service)
    assert plain.returncode == 0 and shadow.returncode == 0, err(shadow)
    darker = pixels(tmp_path / "plain.png").astype(int) - pixels(tmp_path / "shadow.png")
    assert darker.max() > 20 and darker.min() >= 0, "the shadow only darkens the ground"
    for args, message in ((["--harmonise", "2"], "must be between 0 and 1"),
                          (["--shadow-angle", "x"], "must be a number")):
        done = cli(photo, tmp_path / "x.png", *args, service=matting_service)
        assert done.returncode == 2 and message in err(done), err(done)
