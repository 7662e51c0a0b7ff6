"""Start the services as local processes on 127.0.0.1: for the demo, tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from background_replacement.service_common.serve import free_port
from testing.commands import SERVICES_COMMAND

ROOT = Path(__file__).resolve().parent.parent  # the project folder


def port_in_use(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def proc_stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first, then ppid, pgrp,
    …, utime at 11, stime at 12), or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def running(pid: int | str) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z"


def group_alive(group: int) -> bool:
    """Whether any process of process group ``group`` is still running (zombies do not count)."""
    return bool(group_pids(group))


def group_pids(group: int) -> list[int]:
    """The running processes of process group ``group``."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = proc_stat(entry.name)
        if fields is not None and int(fields[2]) == group and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


@dataclass
class Service:
    """A service process on a free loopback port: ``flask --app APP run``; with
    ``server="gunicorn"``, gunicorn with the service's production config; with
    ``server="production"``, ``remove-background-services`` (both services and the front; the
    URL is the front's, ``app`` is then only a name)."""

    app: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    server: str = "flask"
    ready_path: str = "/readyz"  # start() waits until it answers 200
    segmentation_port: int = 0  # production only: where its segmentation service listens
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0, poll: float = 0.2) -> Service:
        """Start the process and wait until ``/readyz`` answers 200 (asked every ``poll``
        seconds)."""
        self.port = self.port or free_port()
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} is already in use; stop what listens there "
                               f"before starting {self.app}")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        handle, name = tempfile.mkstemp(prefix=f"{self.app}-", suffix=".log")
        os.close(handle)
        self.log_path = Path(name)
        module = f"background_replacement.{self.app}"
        if self.server == "production":
            self.segmentation_port = self.segmentation_port or free_port()
            command = [*SERVICES_COMMAND, "--matting-port", str(self.port),
                       "--segmentation-port", str(self.segmentation_port)]
        elif self.server == "gunicorn":
            command = [sys.executable, "-m", "gunicorn", "-c", f"python:{module}.gunicorn_conf",
                       "-b", f"127.0.0.1:{self.port}", f"{module}:create_app()"]
        else:
            command = [sys.executable, "-m", "flask", "--app", module, "run",
                       "--host", "127.0.0.1", "--port", str(self.port), "--no-reload"]
        with self.log_path.open("w") as log:
            # A session of its own: stop() ends the whole process group (gunicorn's workers too).
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()  # whatever it started
                raise RuntimeError(f"{self.app} exited with {self.process.returncode}:\n"
                                   + self.log())
            try:
                if requests.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(poll)
        self.stop()
        raise RuntimeError(f"{self.app} was not ready within {timeout} s:\n" + self.log())

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process and everything in its process group: SIGTERM, then SIGKILL for
        what is left after ``timeout`` seconds. Safe to call twice."""
        if self.process is None:
            return
        group = self.process.pid  # the leader of its own session
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and group_alive(group):
                self.process.poll()  # reap the leader, so it does not linger as a zombie
                time.sleep(0.05)
            if not group_alive(group):
                break
        self.process.wait()

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: gunicorn's workers, or the flask process."""
        pid = self.process.pid
        if self.server != "gunicorn":
            return [pid]
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def group_rss_mib(self) -> float:
        """Resident memory of every process this service started (workers, masters, the
        front), in MiB."""
        total = 0.0
        for pid in group_pids(self.process.pid):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024.0
        return total

    def cpu_seconds(self, include_master: bool = False) -> float:
        """CPU seconds (user + system) the serving processes have used so far, and with
        ``include_master`` gunicorn's master too."""
        pids = self.worker_pids()
        if include_master and self.server == "gunicorn":
            pids.append(self.process.pid)
        ticks = os.sysconf("SC_CLK_TCK")
        return sum(int(fields[11]) + int(fields[12]) for pid in pids
                   if (fields := proc_stat(pid)) is not None) / ticks

    def rss_mib(self, field: str = "VmRSS") -> float:
        """Resident memory of the serving processes (``VmRSS`` now, ``VmHWM`` peak), in MiB."""
        total = 0.0
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1]) / 1024.0
        return total

    def settled_rss_mib(self, timeout: float = 5.0, interval: float = 0.25) -> float:
        """``VmRSS`` once it holds still (within 1 MiB over ``interval``): a service finishes a
        request's teardown, which gives freed memory back, after the answer has been sent."""
        deadline = time.monotonic() + timeout
        previous = self.rss_mib()
        while True:
            time.sleep(interval)
            current = self.rss_mib()
            if abs(current - previous) < 1.0 or time.monotonic() > deadline:
                return current
            previous = current

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""
