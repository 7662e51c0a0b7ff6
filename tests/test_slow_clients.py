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
