"""Slow and stalled clients against the production command: the front (nginx) holds them, so the
workers and their in-flight slots stay free, and its time limits end them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
import requests

from background_replacement.service_common.front import HEADER_TIMEOUT_S
from background_replacement.service_common.protocol import API_KEY_HEADER
from tests.conftest import PRODUCTION_KEY
from tests.hostile import raw_request

pytestmark = pytest.mark.slow

DRIBBLERS, STALLED = 12, 8
DRIBBLE = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200


def _dribble(sock: socket.socket, stop: threading.Event) -> None:
    """Send the request's header one byte every 0.5 s until ``stop`` or the server hangs up."""
    for byte in DRIBBLE:
        if stop.wait(0.5):
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


def _stalled_upload(port: int) -> socket.socket:
    """A keyed POST /matte that promises 1 MB and sends 1 KB of it, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    boundary = "stall"
    sock.sendall(
        f"POST /matte HTTP/1.1\r\nHost: x\r\n{API_KEY_HEADER}: {PRODUCTION_KEY}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: 1000000\r\n\r\n--{boundary}\r\n".encode() + b"x" * 1000)
    return sock


@contextmanager
def hostile_connections(port: int) -> Iterator[list[socket.socket]]:
    """``DRIBBLERS`` connections dribbling their headers and ``STALLED`` stalled uploads, held
    open for the length of the block (each dribbler stops by itself within 100 s)."""
    stop = threading.Event()
    with ExitStack() as stack:
        dribblers = []
        for _ in range(DRIBBLERS):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=30))
            dribblers.append(sock)
            threading.Thread(target=_dribble, args=(sock, stop), daemon=True).start()
        for _ in range(STALLED):
            stack.enter_context(_stalled_upload(port))
        try:
            yield dribblers
        finally:
            stop.set()


def _ended_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock`` (or answered it with a client error)."""
    sock.settimeout(0.5)
    try:
        data = sock.recv(1024)
    except TimeoutError:
        return False
    except OSError:  # reset
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 4")


def test_slow_and_stalled_clients_cost_the_service_nothing(production_services, astronaut_png):
    with hostile_connections(production_services.port) as dribblers:
        opened = time.monotonic()
        time.sleep(2)  # let them all be in the middle of their requests
        started = time.monotonic()
        health = requests.get(production_services.url + "/healthz", timeout=10)
        assert health.status_code == 200
        assert time.monotonic() - started < 2.0
        for _ in range(2):  # more than one: nothing is left holding a slot
            answer = requests.post(production_services.url + "/matte",
                                   files={"image": astronaut_png},
                                   headers={API_KEY_HEADER: PRODUCTION_KEY}, timeout=60)
            assert answer.status_code == 200, answer.text[:300]
        # The front's header time limit ends the dribblers, whatever they still send.
        time.sleep(max(0.0, opened + HEADER_TIMEOUT_S + 2 - time.monotonic()))
        assert all(_ended_by_server(sock) for sock in dribblers)


@pytest.mark.parametrize(("path", "key", "code"), [
    ("/matte", "wrong-key-0123456789", "api_key_invalid"),
    ("/matte", None, "api_key_missing"),
    ("/v1.0/removebg", "wrong-key-0123456789", "api_key_invalid"),
])
def test_the_front_refuses_a_wrong_key_before_the_upload_is_sent(production_services, path,
                                                                 key, code):
    """Headers that promise 20 MB with a wrong or missing key are answered 403, in the shape
    of the route, as soon as they are in: the client need not send (nor the front buffer) the
    upload. Without the front's key check nginx waits for the body first."""
    keyed = f"{API_KEY_HEADER}: {key}\n" if key else ""
    head = (f"POST {path} HTTP/1.1\nHost: x\n{keyed}Content-Type: multipart/form-data; "
            "boundary=b\nContent-Length: 20000000\n")
    # Nothing of the body is sent; nginx would wait its body timeout (10 s) for it.
    status, answer = raw_request(production_services.port, head, b"",
                                 timeout=HEADER_TIMEOUT_S / 2)
    assert status == 403
    found = answer["errors"][0]["code"] if path.startswith("/v1.0/") \
        else answer["error"]["code"]
    assert found == code, answer


def test_the_front_logs_each_request_once_and_its_refused_keys(production_services,
                                                               astronaut_png):
    """Each keyed request is logged once, not once more for the front's key check that let it
    in; a key the check refused is logged as that check's 403."""
    marker = f"/healthz?probe={time.monotonic_ns()}"
    assert requests.get(production_services.url + marker,
                        headers={API_KEY_HEADER: PRODUCTION_KEY}, timeout=10).status_code == 200
    refused = requests.post(production_services.url + "/matte", files={"image": astronaut_png},
                            headers={API_KEY_HEADER: "wrong-key-0123456789"}, timeout=30)
    assert refused.status_code == 403
    deadline = time.monotonic() + 5
    while "/_front/key" not in production_services.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = production_services.log().splitlines()
    assert sum(marker in line for line in lines) == 1
    checks = [line for line in lines if "/_front/key" in line]
    assert checks and all(" 403 " in line for line in checks), checks[-3:]
