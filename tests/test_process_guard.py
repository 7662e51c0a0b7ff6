"""The run's own check: a test run that leaves a process it started alive fails at its end."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from testing.launcher import ROOT, running

INNER_TEST = """
import subprocess
from pathlib import Path


def test_starts_a_process():
    process = subprocess.Popen(["sleep", "600"], start_new_session=True)
    Path("sleeper.pid").write_text(str(process.pid))
    if {stop}:
        process.terminate()
        process.wait()
"""


def run_inner(tmp_path: Path, *, stop: bool) -> tuple[subprocess.CompletedProcess, int]:
    """Run a one-test pytest session with the guard plugin in ``tmp_path``."""
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TEST.format(stop=stop)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.process_guard",
                           "-p", "no:cacheprovider", "-q", "test_inner.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return done, int((tmp_path / "sleeper.pid").read_text())


def test_a_process_left_running_fails_the_run_and_is_stopped(tmp_path):
    done, pid = run_inner(tmp_path, stop=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed" in done.stdout  # the test itself passed: the guard failed the run
    assert f"pid {pid}: sleep 600" in done.stdout
    deadline = time.monotonic() + 5
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(pid)


def test_a_run_that_stops_what_it_started_passes(tmp_path):
    done, pid = run_inner(tmp_path, stop=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "still running" not in done.stdout
    assert not running(pid)
