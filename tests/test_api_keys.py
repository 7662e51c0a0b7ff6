"""API keys: open when none are configured; otherwise every POST needs one, GETs stay open."""

from __future__ import annotations

import pytest
import requests
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from background_replacement.service_common.api_keys import (
    BAD_KEY_WINDOW_S,
    BAD_KEYS_ALLOWED,
    HEADER,
    BadKeys,
    client_address,
    is_valid_key,
    load_keys,
)
from testing.commands import PHOTO_COMMAND, VIDEO_COMMAND

pytestmark = pytest.mark.slow

SEGMENTATION_KEY = "seg-3f9a1c77e2b54d0d"
MATTING_KEYS = ("mat-key-one-8c1e4f", "mat-key-two-55d0aa")


def test_keys_come_from_the_variable_and_the_file(tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text("# people allowed in\nfile-key-1\n\n  file-key-2  \n")
    assert load_keys(" a-key , b-key,", "") == {"a-key", "b-key"}
    assert load_keys("a-key", str(keys_file)) == {"a-key", "file-key-1", "file-key-2"}
    assert load_keys("", "") == frozenset()
    with pytest.raises(ValueError, match="API_KEYS_FILE"):
        load_keys("", str(tmp_path / "missing"))
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds no key"):
        load_keys("", str(tmp_path / "empty"))


def test_only_an_exact_key_is_valid():
    keys = frozenset({"abcdef", "123456"})
    assert is_valid_key("abcdef", keys) and is_valid_key("123456", keys)
    for wrong in (None, "", "abcde", "abcdefg", "ABCDEF", " abcdef", "abcdef123456"):
        assert not is_valid_key(wrong, keys)


@pytest.fixture(scope="module")
def keyed(start_session_service, tmp_path_factory):
    """Both services with keys: the matting service's from a file, segmentation's from the
    environment, and the matting service holding segmentation's key."""
    keys_file = tmp_path_factory.mktemp("keys") / "matting-keys"
    keys_file.write_text("# matting service keys\n" + "\n".join(MATTING_KEYS) + "\n")
    segmentation = start_session_service("segmentation_api", {"SEGMENTER": "selfie",
                                                              "API_KEYS": SEGMENTATION_KEY})
    matting = start_session_service("matting_api", {
        "MATTER": "closed-form", "SEGMENTATION_URL": segmentation.url,
        "API_KEYS_FILE": str(keys_file), "SEGMENTATION_API_KEY": SEGMENTATION_KEY})
    return segmentation, matting


def post(url: str, image: bytes, key: str | None = None) -> requests.Response:
    headers = {HEADER: key} if key is not None else {}
    return requests.post(url, files={"image": image}, headers=headers, timeout=120)


def test_open_when_no_keys_are_configured(matting_service, segmentation_service, astronaut_png):
    assert post(matting_service.url + "/matte", astronaut_png).status_code == 200
    assert post(segmentation_service.url + "/trimap", astronaut_png).status_code == 200


def test_every_post_needs_a_valid_key(keyed, astronaut_png):
    segmentation, matting = keyed
    for url, good_keys in ((matting.url + "/matte", MATTING_KEYS),
                           (segmentation.url + "/trimap", (SEGMENTATION_KEY,)),
                           (segmentation.url + "/mask", (SEGMENTATION_KEY,))):
        missing = post(url, astronaut_png)
        assert missing.status_code == 403
        assert missing.json()["error"]["code"] == "api_key_missing"
        for wrong in ("", "nope", good_keys[0][:-1], good_keys[0].upper()):
            refused = post(url, astronaut_png, wrong)
            assert refused.status_code == 403, wrong
            assert refused.json()["error"]["code"] == "api_key_invalid"
        for key in good_keys:
            assert post(url, astronaut_png, key).status_code == 200, url
    # One service's key is not the other's.
    assert post(matting.url + "/matte", astronaut_png, SEGMENTATION_KEY).status_code == 403


def test_health_checks_page_and_document_stay_open(keyed):
    for service in keyed:
        for path in ("/healthz", "/readyz", "/openapi.json"):
            assert requests.get(service.url + path, timeout=10).status_code == 200, path
    matting = keyed[1]
    for path in ("/", "/web/app.js", "/backgrounds", "/backgrounds/green.jpg"):
        assert requests.get(matting.url + path, timeout=10).status_code == 200, path


def test_keys_are_never_logged(keyed, astronaut_png):
    matting = keyed[1]
    post(matting.url + "/matte", astronaut_png, MATTING_KEYS[0])
    post(matting.url + "/matte", astronaut_png, "a-wrong-key-for-the-log")
    for service in keyed:
        log = service.log()
        assert "/matte" in log or "/trimap" in log  # the log is the one requests went to
        for secret in (*MATTING_KEYS, SEGMENTATION_KEY, "a-wrong-key-for-the-log"):
            assert secret not in log


def test_a_wrong_segmentation_key_is_the_servers_fault(start_service, keyed, astronaut_png):
    segmentation, _ = keyed
    misconfigured = start_service("matting_api", {"MATTER": "closed-form",
                                                  "SEGMENTATION_URL": segmentation.url,
                                                  "SEGMENTATION_API_KEY": "stale-key"},
                                  ready_path="/healthz")
    # Readiness asks the segmentation service with the key, so it says what is wrong.
    ready = requests.get(misconfigured.url + "/readyz", timeout=10)
    assert ready.status_code == 503
    assert "SEGMENTATION_API_KEY" in ready.json()["error"]["message"]
    answer = post(misconfigured.url + "/matte", astronaut_png)
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "segmentation_forbidden"
    assert "SEGMENTATION_API_KEY" in answer.json()["error"]["message"]


def test_removebg_refuses_in_its_own_shape(keyed, astronaut_png, monkeypatch):
    """remove.bg's route answers a missing or wrong key with 403 in remove.bg's error shape;
    a remove.bg client with a right key gets its picture."""
    import remove_bg_api

    url = keyed[1].url + "/v1.0/removebg"
    for key, code in ((None, "api_key_missing"), ("nope", "api_key_invalid"),
                      (MATTING_KEYS[0][:-1], "api_key_invalid")):
        headers = {HEADER: key} if key is not None else {}
        refused = requests.post(url, files={"image_file": astronaut_png}, headers=headers,
                                timeout=120)
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["code"] == code
        assert refused.json()["errors"][0]["title"]
    monkeypatch.setattr(remove_bg_api, "API_URL", keyed[1].url + "/v1.0")
    assert remove_bg_api.RemoveBg(MATTING_KEYS[1]).remove_bg_bytes(astronaut_png)[:4] \
        == b"\x89PNG"
    with pytest.raises(remove_bg_api.Errors.ApiErrorCode403):
        remove_bg_api.RemoveBg(SEGMENTATION_KEY).remove_bg_bytes(astronaut_png)


def test_the_command_line_sends_a_key(keyed, astronaut_png, tmp_path):
    """`remove-background` against a keyed service: refused without a key (exit 1, the
    service's message), done with --api-key or with REMOVE_BACKGROUND_API_KEY."""
    import os
    import subprocess

    from tests.test_cli import ROOT, address

    photo = tmp_path / "photo.png"
    photo.write_bytes(astronaut_png)
    env = {key: value for key, value in os.environ.items()
           if key != "REMOVE_BACKGROUND_API_KEY"}

    def run(*extra: str, key_in_env: str | None = None) -> subprocess.CompletedProcess:
        target = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.png"
        environment = env | ({"REMOVE_BACKGROUND_API_KEY": key_in_env} if key_in_env else {})
        done = subprocess.run([*PHOTO_COMMAND, str(photo),
                               str(target), "--server", address(keyed[1]), *extra], cwd=ROOT,
                              env=environment, capture_output=True, timeout=240)
        assert b"Traceback" not in done.stderr
        assert (done.returncode == 0) == target.is_file()
        return done

    refused = run()
    assert refused.returncode == 1 and b"api_key_missing" in refused.stderr
    assert run("--api-key", "nope").returncode == 1
    assert run("--api-key", MATTING_KEYS[0]).returncode == 0
    assert run(key_in_env=MATTING_KEYS[1]).returncode == 0


def test_the_video_command_sends_a_key(keyed, tmp_path):
    """`remove-background-video` against a keyed service: refused without a key, done with it."""
    import subprocess

    from background_replacement.client.example_clip import write_zoom_clip
    from tests.conftest import EXAMPLES
    from tests.test_cli import ROOT, address

    clip = write_zoom_clip(EXAMPLES / "astronaut.png", tmp_path / "clip.mp4", width=160,
                           height=120, seconds=0.25)

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*VIDEO_COMMAND, str(clip),
                               str(tmp_path / "out.mp4"), "--server", address(keyed[1]),
                               *extra], cwd=ROOT, capture_output=True, text=True, timeout=240)

    refused = run()
    assert refused.returncode == 1 and "api_key_missing" in refused.stderr
    assert not (tmp_path / "out.mp4").exists()
    done = run("--api-key", MATTING_KEYS[0])
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_a_client_sending_wrong_keys_is_locked_out_for_the_window():
    now = [100.0]
    bad = BadKeys(allowed=3, window=60.0, clock=lambda: now[0])
    for _ in range(2):
        bad.failed("a")
    assert bad.locked_for("a") == 0.0
    now[0] += 10
    bad.failed("a")  # the third within the window of the first
    assert bad.locked_for("a") == pytest.approx(50.0)
    assert bad.locked_for("b") == 0.0  # another client is not touched
    now[0] += 50
    assert bad.locked_for("a") == 0.0  # the window ended: a fresh count
    bad.failed("a")
    assert bad.locked_for("a") == 0.0


def test_the_client_is_the_address_the_front_saw():
    def seen(peer: str, forwarded: str | None) -> str:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return client_address(Request(EnvironBuilder(headers=headers,
                                                     environ_base={"REMOTE_ADDR": peer})
                                      .get_environ()))

    assert seen("127.0.0.1", "203.0.113.9, 198.51.100.4") == "198.51.100.4"  # nginx's entry
    assert seen("127.0.0.1", None) == "127.0.0.1"
    assert seen("192.0.2.10", "198.51.100.4") == "192.0.2.10"  # not through the front


def test_wrong_keys_lock_that_client_out_not_others(keyed):
    _, matting = keyed
    url = matting.url + "/matte"

    def send(key: str, client: str) -> requests.Response:
        return requests.post(url, headers={HEADER: key, "X-Forwarded-For": client}, timeout=60)

    guesser, neighbour = "198.51.100.7", "198.51.100.8"
    assert [send(f"guess-{n}", guesser).status_code
            for n in range(BAD_KEYS_ALLOWED)] == [403] * BAD_KEYS_ALLOWED
    locked = send(MATTING_KEYS[0], guesser)  # even the right key, until the window ends
    assert locked.status_code == 429, locked.text
    assert locked.json()["error"]["code"] == "too_many_wrong_keys"
    assert 0 < int(locked.headers["Retry-After"]) <= BAD_KEY_WINDOW_S
    assert send(MATTING_KEYS[0], neighbour).status_code == 400  # past the key: no image sent
    assert requests.get(matting.url + "/healthz", headers={"X-Forwarded-For": guesser},
                        timeout=60).status_code == 200


def test_a_locked_out_matting_service_still_says_its_key_is_wrong(start_service, astronaut_png):
    """The segmentation service locks out a matting service that keeps sending a stale key;
    the matting service goes on answering 502 segmentation_forbidden, never the 429."""
    segmentation = start_service("segmentation_api", {"SEGMENTER": "selfie",
                                                      "API_KEYS": SEGMENTATION_KEY})
    stale = start_service("matting_api", {"MATTER": "closed-form",
                                          "SEGMENTATION_URL": segmentation.url,
                                          "SEGMENTATION_API_KEY": "stale-key"},
                          ready_path="/healthz")
    codes = {post(stale.url + "/matte", astronaut_png).json()["error"]["code"]
             for _ in range(BAD_KEYS_ALLOWED + 2)}
    assert codes == {"segmentation_forbidden"}
    locked = requests.post(segmentation.url + "/trimap", headers={HEADER: "stale-key"},
                           timeout=60)
    assert locked.status_code == 429  # the lockout did happen
    assert "SEGMENTATION_API_KEY" in requests.get(stale.url + "/readyz", timeout=10).json()[
        "error"]["message"]
