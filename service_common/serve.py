"""Start both services with one command, each under gunicorn with its production settings.

    remove-background-services [--host 127.0.0.1] [--matting-port 5000]
                               [--segmentation-port 3000]

The segmentation service listens on 127.0.0.1 only (the matting service is its one client); the
matting service on ``--host``. Every other setting comes from the environment as for each service
alone (``SEGMENTER``, ``MATTER``, ``WORKERS``, ``THREADS``, …). Ctrl-C or SIGTERM stops both
gracefully; if one of them stops, the other is stopped too and the command exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time


def gunicorn_command(service: str) -> list[str]:
    """gunicorn serving ``service``'s app factory with the service's config file."""
    return [sys.executable, "-m", "gunicorn", "-c", f"python:{service}.gunicorn_conf",
            f"{service}:create_app()"]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="remove-background-services",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="the matting service's address (default: %(default)s; 0.0.0.0 "
                             "for every interface)")
    parser.add_argument("--matting-port", type=int, default=5000)
    parser.add_argument("--segmentation-port", type=int, default=3000)
    return parser.parse_args(argv)


def _stop(processes: list[subprocess.Popen], timeout: float = 40.0) -> None:
    """SIGTERM each process still running (gunicorn then finishes the requests in progress),
    then SIGKILL what is left after ``timeout`` seconds."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    segmentation_bind = f"127.0.0.1:{args.segmentation_port}"
    segmentation = subprocess.Popen(gunicorn_command("segmentation_api"),
                                    env={**os.environ, "BIND": segmentation_bind})
    matting = subprocess.Popen(gunicorn_command("matting_api"), env={
        **os.environ, "BIND": f"{args.host}:{args.matting_port}",
        "SEGMENTATION_URL": f"http://{segmentation_bind}"})
    processes = [segmentation, matting]

    def _terminate(signum, _frame) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        stopped = next(p for p in processes if p.poll() is not None)
        print(f"{stopped.args[-1]} exited with {stopped.returncode}; stopping the other service",
              file=sys.stderr)
        return stopped.returncode or 1
    except KeyboardInterrupt:
        return 130
    finally:
        _stop(processes)


if __name__ == "__main__":
    sys.exit(main())
