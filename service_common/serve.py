"""Start both services with one command, each under gunicorn with its production settings.

    remove-background-services [--host 127.0.0.1] [--matting-port 5000]
                               [--segmentation-port 3000]

The segmentation service listens on 127.0.0.1 only (the matting service is its one client) and
requires a key of its own, made here at start unless ``SEGMENTATION_API_KEY`` gives one, which
only the matting service is told. The matting service's gunicorn listens on a free loopback port
behind the front (``service_common.front``: nginx) on ``--host``. Every other setting comes from
the environment as for each service alone (``API_KEYS``, ``SEGMENTER``, ``MATTER``, ``WORKERS``,
``THREADS``, …). Ctrl-C or SIGTERM stops all three gracefully; if one of them stops, the others
are stopped too and the command exits non-zero.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from background_replacement.service_common.front import nginx_command, prepare_front
from background_replacement.service_common.protocol import MATTING_PORT, SEGMENTATION_PORT


def gunicorn_command(service: str) -> list[str]:
    """gunicorn serving ``service``'s app factory (``matting_api`` or ``segmentation_api``) with
    the service's config file."""
    module = f"background_replacement.{service}"
    return [sys.executable, "-m", "gunicorn", "-c", f"python:{module}.gunicorn_conf",
            f"{module}:create_app()"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# prctl, resolved here rather than in a forked child; Linux only.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_this_thread() -> None:
    """A ``preexec_fn``: on Linux the child gets SIGTERM when the thread that started it ends
    (a notebook kernel killed in the middle of a cell); elsewhere nothing."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop_groups(processes: list[subprocess.Popen], timeout: float = 40.0) -> None:
    """SIGTERM to each process's group at once (gunicorn finishes the requests in progress and
    stops its workers), SIGKILL to what is left after ``timeout`` seconds."""
    for process in processes:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(max(0.0, deadline - time.monotonic()))
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as answer:
            return answer.status == 200
    except OSError:  # refused, reset, timed out, or an HTTP error status
        return False


@contextmanager
def running_services(env: Mapping[str, str] | None = None,
                     timeout: float = 180.0) -> Iterator[str]:
    """Both services under gunicorn on free ports of 127.0.0.1 for the length of a ``with``
    block, which gets the matting service's URL once it is ready (models loaded, segmentation
    reachable with its own key, as ``main`` sets them up, without the front). ``env`` adds
    settings (``SEGMENTER``, ``THREADS``, …) to this process's own.

    Leaving the block, also by an exception or Ctrl-C, stops both with their workers: each runs
    in a process group of its own. On Linux they also get SIGTERM if the thread that started
    them ends without leaving the block (a notebook kernel that is killed). Their output goes
    to a temporary log, quoted in the error when they do not start.
    """
    segmentation_bind, matting_bind = (f"127.0.0.1:{free_port()}" for _ in range(2))
    environments = service_environments({**os.environ, **(env or {})}, segmentation_bind,
                                        matting_bind)
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryFile("w+", errors="replace") as log:
        try:
            names = ("segmentation_api", "matting_api")
            for service, service_env in zip(names, environments, strict=True):
                processes.append(subprocess.Popen(
                    gunicorn_command(service), env=service_env,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=_die_with_this_thread))
            url = f"http://{matting_bind}"
            deadline = time.monotonic() + timeout
            while not _ready(url):
                stopped = [process for process in processes if process.poll() is not None]
                if stopped or time.monotonic() > deadline:
                    log.seek(0)
                    reason = f"{stopped[0].args[-1]} exited with {stopped[0].returncode}" \
                        if stopped else f"the services were not ready within {timeout:.0f} s"
                    raise RuntimeError(f"{reason}; their log:\n{log.read()[-4000:]}")
                time.sleep(0.25)
            yield url
        finally:
            _stop_groups(processes)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="remove-background-services",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="the matting service's address (default: %(default)s; 0.0.0.0 "
                             "for every interface)")
    parser.add_argument("--matting-port", type=int, default=MATTING_PORT)
    parser.add_argument("--segmentation-port", type=int, default=SEGMENTATION_PORT)
    parser.add_argument("--only", choices=["matting"],
                        help="only the matting service and its front, for a segmentation "
                             "service elsewhere (SEGMENTATION_URL, SEGMENTATION_API_KEY): what "
                             "the matting service's container runs")
    return parser.parse_args(argv)


def _stop(processes: list[subprocess.Popen], timeout: float = 40.0) -> None:
    """Ask each process still running to stop gracefully (gunicorn: SIGTERM, nginx: SIGQUIT;
    both finish the requests in progress), then SIGKILL what is left after ``timeout``
    seconds."""
    for process in processes:
        if process.poll() is None:
            graceful = signal.SIGQUIT if Path(process.args[0]).name == "nginx" else signal.SIGTERM
            process.send_signal(graceful)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def service_environments(environ: Mapping[str, str], segmentation_bind: str,
                         matting_bind: str) -> tuple[dict[str, str], dict[str, str]]:
    """The segmentation and matting services' environments: the segmentation service accepts
    only its own key (``SEGMENTATION_API_KEY``, or one made now), which the matting service
    sends; the public keys (``API_KEYS``, ``API_KEYS_FILE``) are the matting service's alone."""
    key = environ.get("SEGMENTATION_API_KEY") or secrets.token_urlsafe(32)
    segmentation = {**environ, "BIND": segmentation_bind, "API_KEYS": "", "API_KEYS_FILE": "",
                    "SEGMENTATION_API_KEY": key}
    matting = {**environ, "BIND": matting_bind, "SEGMENTATION_URL": f"http://{segmentation_bind}",
               "SEGMENTATION_API_KEY": key}
    return segmentation, matting


def _start(args: argparse.Namespace, folder: Path) -> list[subprocess.Popen]:
    """The services' processes (gunicorn for each, nginx for the front), started."""
    front = nginx_command(folder)  # first: it fails when nginx is missing
    matting_bind = f"127.0.0.1:{free_port()}"
    if args.only == "matting":
        services = [("matting_api", {**os.environ, "BIND": matting_bind})]
    else:
        services = list(zip(("segmentation_api", "matting_api"), service_environments(
            os.environ, f"127.0.0.1:{args.segmentation_port}", matting_bind), strict=True))
    prepare_front(f"{args.host}:{args.matting_port}", matting_bind, folder)
    processes = [subprocess.Popen(gunicorn_command(service), env=env) for service, env in services]
    return [*processes, subprocess.Popen(front)]


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    folder = Path(tempfile.mkdtemp(prefix="front-"))
    try:
        processes = _start(args, folder)
    except (RuntimeError, ValueError) as exc:  # nginx is missing; the keys cannot be read
        shutil.rmtree(folder, ignore_errors=True)
        print(f"remove-background-services: {exc}", file=sys.stderr)
        return 1

    def _terminate(signum, _frame) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        stopped = next(p for p in processes if p.poll() is not None)
        print(f"{Path(stopped.args[-1]).name} exited with {stopped.returncode}; stopping the "
              "others", file=sys.stderr)
        return stopped.returncode or 1
    except KeyboardInterrupt:
        return 130
    finally:
        _stop(processes)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
