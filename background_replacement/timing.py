"""Per-stage durations of one piece of work (the services send them as ``Server-Timing``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


def parse_server_timing(header: str) -> dict[str, float]:
    """A ``Server-Timing`` header → {stage: seconds}; entries without a duration are skipped."""
    stages = {}
    for entry in header.split(","):
        name, _, duration = entry.strip().partition(";dur=")
        try:
            stages[name] = float(duration) / 1000.0
        except ValueError:
            continue
    return stages


class StageTimer:
    """Collects per-stage durations for the ``Server-Timing`` header."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body of a ``with`` block as stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - start

    def add_remote(self, header: str, prefix: str) -> None:
        """Add the stages of another service's ``Server-Timing`` header under ``prefix``."""
        for name, seconds in parse_server_timing(header).items():
            self.stages[f"{prefix}{name}"] = seconds

    def header(self) -> str:
        """The ``Server-Timing`` header value, durations in milliseconds."""
        return ", ".join(f"{name};dur={seconds * 1000:.1f}"
                         for name, seconds in self.stages.items())
