"""A pytest plugin: the run fails if a process it started is still alive at its end.

Every process started during the run inherits ``TEST_RUN_MARKER`` in its environment (set at
configure time, so the pytest process's own start-up environment does not carry it). At the end
of the session, any live process whose start-up environment holds this run's value was left
behind: it is listed, stopped, and the run's exit status becomes a failure. SIGTERM to pytest is
turned into an interruption, so fixtures' finalisers still run.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from testing.launcher import running

TEST_RUN_MARKER = "BGREPLACE_TEST_RUN"
_token = pytest.StashKey[str]()


def started_by(token: str) -> dict[int, str]:
    """Live processes (not zombies) whose start-up environment carries ``token``: pid → command."""
    needle = f"{TEST_RUN_MARKER}={token}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if not running(entry.name):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        found[int(entry.name)] = command.strip()
    return found


def _stop(pids: list[int]) -> None:
    """SIGTERM, then SIGKILL after 5 s: the process group when it has one of its own."""
    own_group = os.getpgrp()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                group = os.getpgid(pid)
                if group != own_group:
                    os.killpg(group, sig)
                else:
                    os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(map(running, pids)):
            time.sleep(0.05)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    token = uuid.uuid4().hex
    config.stash[_token] = token
    os.environ[TEST_RUN_MARKER] = token
    signal.signal(signal.SIGTERM, _interrupt)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    token = session.config.stash.get(_token, None)
    if token is None:
        return
    # A second SIGTERM must not cut the clean-up short (it takes a few seconds at most).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    leftovers = started_by(token)
    deadline = time.monotonic() + 3  # a process told to stop a moment ago may still be exiting
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.1)
        leftovers = started_by(token)
    if not leftovers:
        return
    _stop(list(leftovers))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(leftovers)} process(es) started by this test run were still running at "
             "its end (now stopped):"] + [f"  pid {pid}: {cmd[:200]}"
                                          for pid, cmd in sorted(leftovers.items())]
    if reporter is not None:
        reporter.write_line("\n".join(lines), red=True, bold=True)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
