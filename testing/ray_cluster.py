"""Ray nodes on one machine for tests and benchmarks, inside a network namespace that has only
loopback (Ray binds to the machine's routable address otherwise): a ``sleep`` holds the
namespace, every node and driver is started in it with ``nsenter``, each node with its own temp
dir and ports. Every process carries ``MARKER`` in its environment (and whatever the caller's
environment holds, ``BGREPLACE_TEST_RUN`` included), so ``stop`` finds and kills each by PID.
Needs root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from testing.launcher import ROOT, running

START_TIMEOUT = 90  # seconds for one `ray start` (about 5-10 s on an idle machine)
MARKER = "BATCH_TEST_CLUSTER"  # value: "<test's uuid>:<node role>"
HEAD_PORT = 6390
# Each node's own ports (two nodes share the namespace's loopback).
NODE_PORTS = {
    "head": {"--node-manager-port": 6391, "--object-manager-port": 6392,
             "--dashboard-agent-listen-port": 6394, "--dashboard-agent-grpc-port": 6395,
             "--runtime-env-agent-port": 6396, "--metrics-export-port": 6397,
             "--min-worker-port": 11000, "--max-worker-port": 11099},
    "worker": {"--node-manager-port": 6491, "--object-manager-port": 6492,
               "--dashboard-agent-listen-port": 6494, "--dashboard-agent-grpc-port": 6495,
               "--runtime-env-agent-port": 6496, "--metrics-export-port": 6497,
               "--min-worker-port": 12000, "--max-worker-port": 12099},
}
# Nothing outside the namespace can reach it: no token (Ray would write one to ~/.ray).
LOOPBACK_ONLY = {"RAY_AUTH_MODE": "disabled"}
# A lost node is declared dead after about 2 s instead of Ray's default 15 s or so.
FAST_HEALTH_CHECKS = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "500",
                      "RAY_health_check_failure_threshold": "4"}


def with_marker(token: str) -> dict[int, tuple[str, str]]:
    """Live processes whose start-up environment carries ``MARKER=token:…``: pid → (role,
    command)."""
    prefix = f"{MARKER}={token}:".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            values = [v for v in (entry / "environ").read_bytes().split(b"\0")
                      if v.startswith(prefix)]
            if not values or not running(entry.name):
                continue
            command = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        found[int(entry.name)] = (values[0][len(prefix):].decode(), command)
    return found


@dataclass
class Cluster:
    """A loopback-only network namespace (held by a ``sleep``) and the Ray nodes in it."""

    folder: Path
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    holder: subprocess.Popen | None = None
    started: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{HEAD_PORT}"

    def env(self, role: str) -> dict[str, str]:
        return {**os.environ, MARKER: f"{self.token}:{role}", "PYTHONPATH": str(ROOT),
                "RAY_USAGE_STATS_ENABLED": "0", "THREADS": "1", **LOOPBACK_ONLY,
                **FAST_HEALTH_CHECKS}

    def inside(self, command: list[str], role: str, **options) -> subprocess.Popen:
        """Start ``command`` in the namespace, in its own process group."""
        assert self.holder is not None
        process = subprocess.Popen(["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--",
                                    *command], env=self.env(role), start_new_session=True,
                                   **options)
        self.started.append(process)
        return process

    def start(self, worker: bool = True) -> Cluster:
        """The namespace, the head node, and (``worker``) one worker node."""
        self.holder = subprocess.Popen(["unshare", "-n", "--", "sh", "-c",
                                        "ip link set lo up && exec sleep 600"],
                                       env=self.env("namespace"), start_new_session=True)
        self.started.append(self.holder)
        # Ready once the holder has exec'd `sleep` (its own command line names sleep from the
        # start, so only the first word tells): unshare has run and loopback is up by then.
        deadline = time.monotonic() + 10
        while not self._holding():
            assert time.monotonic() < deadline and self.holder.poll() is None, "no namespace"
            time.sleep(0.05)
        self._node("head", ["--head", "--port", str(HEAD_PORT), "--include-dashboard", "false"])
        if worker:
            self.add_worker()
        strays = self.outside()
        assert not strays, f"Ray processes outside the loopback-only namespace: {strays}"
        return self

    def _holding(self) -> bool:
        """Whether the holder is the ``sleep`` in a network namespace other than this process's."""
        assert self.holder is not None
        proc = Path(f"/proc/{self.holder.pid}")
        with contextlib.suppress(OSError):
            return (proc.joinpath("cmdline").read_bytes().split(b"\0")[0] == b"sleep"
                    and os.readlink(proc / "ns/net") != os.readlink("/proc/self/ns/net"))
        return False

    def outside(self) -> list[int]:
        """PIDs of this cluster's live processes that are not in its namespace (none, unless
        something is wrong)."""
        assert self.holder is not None
        inner = os.readlink(f"/proc/{self.holder.pid}/ns/net")
        strays = []
        for pid in with_marker(self.token):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/ns/net") != inner:
                    strays.append(pid)
        return strays

    def add_worker(self) -> None:
        """Start the worker node (one at most: its ports are fixed)."""
        self._node("worker", ["--address", self.address])

    def _node(self, role: str, arguments: list[str]) -> None:
        ray = Path(sys.executable).parent / "ray"
        ports = [str(part) for pair in NODE_PORTS[role].items() for part in pair]
        command = [str(ray), "start", *arguments, "--num-cpus", "1", "--node-ip-address",
                   "127.0.0.1", "--temp-dir", str(self.folder / role), "--disable-usage-stats",
                   *ports]
        done = self.inside(command, role, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output, _ = done.communicate(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(done.pid, signal.SIGKILL)
            output, _ = done.communicate()
            raise AssertionError(f"ray start ({role}) took over {START_TIMEOUT} s:\n"
                                 + output.decode(errors="replace")[-2000:]) from None
        assert done.returncode == 0, output.decode(errors="replace")[-2000:]

    def _kill_until_gone(self, role: str | None, seconds: float) -> set[int]:
        """SIGKILL this cluster's processes (of ``role``, or all) again and again until none is
        left (a raylet may start one meanwhile) or ``seconds`` pass; returns the PIDs killed."""
        killed: set[int] = set()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            left = [pid for pid, (r, _) in with_marker(self.token).items()
                    if role is None or r == role]
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed.update(left)
            time.sleep(0.05)
        return killed

    def lose_node(self, role: str) -> list[int]:
        """SIGKILL every process of a node at once (its raylet, agents and the workers running
        its actors), as when its machine is lost; returns their PIDs. Killing the raylet alone
        lets an actor already running a task finish it and answer the driver directly."""
        assert any(r == role and Path(command).name == "raylet"
                   for r, command in with_marker(self.token).values())
        killed = self._kill_until_gone(role, 10)
        assert not any(r == role for r, _ in with_marker(self.token).values()), \
            f"{role} node's processes survive"
        return sorted(killed)

    def stop(self) -> None:
        """SIGKILL every process with this cluster's marker (Ray's daemons, workers and
        agents, the driver) and every process group it started; wait until they are gone."""
        self._kill_until_gone(None, 20)
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def namespaces_available() -> bool:
    """Whether this process may make a network namespace (root, unshare and nsenter)."""
    return os.geteuid() == 0 and bool(shutil.which("unshare") and shutil.which("nsenter"))


def short_folder() -> Path:
    """A fresh folder for the nodes' temp dirs: short, since Ray's socket paths live under it
    and must fit in 107 bytes."""
    folder = Path(f"/tmp/rb-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    return folder
