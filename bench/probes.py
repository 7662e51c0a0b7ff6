"""The probes of issue 26 against the production command, as a table of what each one got.

    .venv/bin/python -m bench.probes [--checkout DIR]

Starts ``remove-background-services`` from ``DIR`` (default: this checkout; another commit's
tree, e.g. from ``git archive``, gives the before column) with the embedded models and
``API_KEYS`` only, on free loopback ports, sends each probe (bounded in count and time, to
127.0.0.1 only) and prints one line per probe. Every process it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

from background_replacement.service_common.serve import free_port
from testing.commands import SERVICES_COMMAND
from testing.launcher import ROOT, group_pids

KEY = "probe-key-0123456789"
KEYED = {"X-Api-Key": KEY}
PHOTO = (ROOT / "examples" / "astronaut.png").read_bytes()


def encoded(fmt: str, size: tuple[int, int] = (64, 48), **options) -> bytes:
    buffer = io.BytesIO()
    mode = "1" if fmt == "XBM" else "RGB"
    Image.new(mode, size, 1 if mode == "1" else (40, 120, 200)).save(buffer, format=fmt,
                                                                     **options)
    return buffer.getvalue()


class Production:
    """``remove-background-services`` from a checkout, in a process group of its own."""

    def __init__(self, checkout: Path, segmentation_key: bool):
        self.port, self.segmentation_port = free_port(), free_port()
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115
        env = {**os.environ, "SEGMENTER": "selfie", "MATTER": "closed-form", "API_KEYS": KEY,
               "THREADS": "1", "PYTHONPATH": str(checkout)}
        if segmentation_key:  # the configuration that worked before: the same key both ends
            env["SEGMENTATION_API_KEY"] = KEY
        self.process = subprocess.Popen(
            [*SERVICES_COMMAND, "--matting-port", str(self.port),
             "--segmentation-port", str(self.segmentation_port)], cwd=checkout, env=env,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)

    def memory_mib(self) -> float:
        total = 0.0
        for pid in group_pids(self.process.pid):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        return total

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(40)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        self.process.wait()


def timed_get(url: str, timeout: float = 10) -> str:
    started = time.monotonic()
    try:
        status = requests.get(url, timeout=timeout).status_code
    except requests.RequestException:
        return f"no answer in {timeout:g} s"
    return f"{status} in {time.monotonic() - started:.1f} s"


def hold(port: int, count: int, head: bytes, dribble: bool, seconds: float,
         probe: Callable[[], str]) -> str:
    """Open ``count`` connections that dribble ``head`` (or send it and stall), run ``probe``
    while they are held, and close them after at most ``seconds``."""
    stop = threading.Event()
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]

    def dribbler(sock: socket.socket) -> None:
        for byte in head:
            if stop.wait(1.0):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return

    for sock in socks:
        if dribble:
            threading.Thread(target=dribbler, args=(sock,), daemon=True).start()
        else:
            sock.sendall(head)
    time.sleep(2)
    try:
        timer = threading.Timer(seconds, stop.set)
        timer.start()
        return probe()
    finally:
        stop.set()
        for sock in socks:
            sock.close()


def upload_head(path: str, key: str | None) -> bytes:
    keyed = f"X-Api-Key: {key}\r\n" if key else ""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\n{keyed}Content-Type: multipart/form-data; "
            "boundary=b\r\nContent-Length: 1000000\r\n\r\n--b\r\n").encode()


def matte(url: str, files: dict, data: dict | None = None, headers: dict | None = None) -> int:
    try:
        return requests.post(url + "/matte", files=files, data=data or {},
                             headers=KEYED if headers is None else headers, timeout=120).status_code
    except requests.RequestException as exc:
        return type(exc).__name__


def peak_during(service: Production, action: Callable[[], object]) -> str:
    """What ``action`` answered, and the services' largest total memory while it ran."""
    idle, peak, done = service.memory_mib(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], service.memory_mib())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        answer = action()
    finally:
        done.set()
        sampler.join()
    return f"{answer}; {idle:.0f} -> {peak[0]:.0f} MiB"


def slow_client_probes(service: Production) -> dict[str, str]:
    health = service.url + "/healthz"
    dribble = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 60
    return {
        "8 dribbling headers: /healthz": hold(service.port, 8, dribble, True, 20,
                                             lambda: timed_get(health)),
        "8 stalled uploads: /healthz": hold(service.port, 8, upload_head("/matte", None), False,
                                            20, lambda: timed_get(health)),
        "4 stalled keyed uploads: keyed /matte": hold(
            service.port, 4, upload_head("/matte", KEY), False, 20,
            lambda: str(matte(service.url, {"image": PHOTO}))),
    }


def bomb_probes(service: Production) -> dict[str, str]:
    bomb = encoded("WEBP", (6000, 6600), lossless=True)
    small = encoded("WEBP", (3400, 3400), lossless=True)  # just under the default budget

    def four(data: bytes) -> Callable[[], list]:
        return lambda: sorted(pool.map(lambda _: matte(
            service.url, {"image": data}, {"if_no_person": "original"}), range(4)), key=str)

    with ThreadPoolExecutor(4) as pool:
        return {
            f"{len(bomb)} B WebP of 6000x6600 to /matte": peak_during(
                service, lambda: matte(service.url, {"image": bomb},
                                       {"if_no_person": "original"})),
            "four of them at once": peak_during(service, four(bomb)),
            f"four {len(small)} B WebPs of 3400x3400 at once": peak_during(service, four(small)),
            "GET /backgrounds/sky 6324x6324": peak_during(service, lambda: requests.get(
                service.url + "/backgrounds/sky?width=6324&height=6324", timeout=120)
                .status_code),
        }


def raw(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        return sock.recv(200).split(b"\r\n", 1)[0].decode(errors="replace")


def answered_after_headers(port: int, head: bytes) -> str:
    """The status line answered to ``head`` alone (its body never sent), and how soon."""
    started = time.monotonic()
    try:
        first = raw(port, head)
    except TimeoutError:
        return "no answer in 30 s"
    return f"{first or 'closed'} after {time.monotonic() - started:.1f} s"


def key_probes(service: Production) -> dict[str, str]:
    segmentation = f"http://127.0.0.1:{service.segmentation_port}"
    return {
        "wrong key, 1 MB upload promised, not sent": answered_after_headers(
            service.port, upload_head("/matte", "wrong-key-0123456789")),
        "API_KEYS only: keyed /matte": str(matte(service.url, {"image": PHOTO})),
        "API_KEYS only: /readyz": str(requests.get(service.url + "/readyz", timeout=10)
                                      .status_code),
        "segmentation port, no key: /trimap, /people": ", ".join(
            str(requests.post(segmentation + path, files={"image": PHOTO}, timeout=60)
                .status_code) for path in ("/trimap", "/people")),
    }


def format_probes(service: Production) -> dict[str, str]:
    formats = {fmt: encoded(fmt) for fmt in ("ICO", "TGA", "PCX", "SGI", "DDS", "PPM", "QOI",
                                             "JPEG2000", "XBM", "EPS")}
    answers = {fmt: matte(service.url, {"image": data}) for fmt, data in formats.items()}
    return {"ICO TGA PCX SGI DDS PPM QOI JP2 XBM EPS to /matte":
            " ".join(str(status) for status in answers.values())}


def small_probes(service: Production) -> dict[str, str]:
    deep = requests.post(service.url + "/v1.0/removebg", data=b"[" * 100000 + b"]" * 100000,
                         headers={**KEYED, "Content-Type": "application/json"}, timeout=60)
    chunk = raw(service.port, b"POST /matte HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + KEY.encode()
                + b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    requests.post(service.url + "/matte?api_key=" + KEY, files={"image": PHOTO}, timeout=60)
    time.sleep(1)
    service.log.seek(0)
    wrapped = base64.encodebytes(PHOTO).decode()  # 76 columns
    answers = {"deep JSON to /v1.0/removebg": str(deep.status_code),
               "bad chunk size to /matte": chunk,
               "?api_key= in the log": "found" if KEY in service.log.read() else "not found",
               "base64 wrapped at 76 columns": str(requests.post(
                   service.url + "/v1.0/removebg", data={"image_file_b64": wrapped},
                   headers=KEYED, timeout=120).status_code)}
    page = requests.get(service.url + "/web/index.html", timeout=10)
    answers["CSP on /web/index.html"] = "yes" if "Content-Security-Policy" in page.headers \
        else "no"
    for path in ("/web/app.js", "/web/style.css", "/openapi.json", "/healthz"):
        headers = requests.get(service.url + path, timeout=10).headers
        answers[f"nosniff / no-referrer on {path}"] = (
            f"{headers.get('X-Content-Type-Options', '-')} / "
            f"{headers.get('Referrer-Policy', '-')}")
    return answers


def burst_probe(service: Production) -> dict[str, str]:
    def one(_: int) -> tuple[int, float]:
        started = time.monotonic()
        status = matte(service.url, {"image": PHOTO})
        return status, time.monotonic() - started

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(one, range(50)))
    refused = sorted(seconds for status, seconds in answers if status == 503)
    slowest = (f", 503 after {refused[len(refused) // 2]:.1f} s (median), "
               f"{refused[-1]:.1f} s (slowest)") if refused else ""
    return {"burst of 50 /matte": f"{len(refused)} got 503{slowest}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--segmentation-key", action="store_true",
                        help="also set SEGMENTATION_API_KEY to the public key (without it, "
                             "API_KEYS is the only key given)")
    args = parser.parse_args()
    service = Production(args.checkout.resolve(), args.segmentation_key)
    try:
        for probes in (slow_client_probes, bomb_probes, key_probes, format_probes,
                       small_probes, burst_probe):
            for name, answer in probes(service).items():
                print(f"| {name} | {answer} |", flush=True)
    finally:
        service.stop()


if __name__ == "__main__":
    main()
