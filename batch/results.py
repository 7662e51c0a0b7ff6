"""Exactly-once results from at-least-once work: atomic files and the driver's manifest.

A worker writes each output under a hidden temporary name in the output's own folder and renames
it (``os.replace``) to its final name, so a file under that name is always complete, and a task
that ran twice (its node died after writing, before answering) leaves one file, written last.
Only the driver appends to the manifest (JSON lines: input, output, sha256), one line per result
it received; a rerun skips the inputs it lists whose output is still there with that checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

# Atomic files are the core's (``files``); re-exported for the workers and the driver.
from background_replacement.files import PARTIAL, partial_path, remove_partials
from background_replacement.files import write_atomically as _write_atomically

__all__ = ["MANIFEST_NAME", "PARTIAL", "Manifest", "Record", "partial_path", "remove_partials",
           "sha256_of", "write_atomically"]

MANIFEST_NAME = "manifest.jsonl"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Record:
    """One finished input: paths relative to the destination (output) or the inputs' root."""

    input: str
    output: str
    sha256: str


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically, fsynced before the rename (a result must survive
    the node); returns its SHA-256."""
    return _write_atomically(path, data, sync=True)


class Manifest:
    """The destination's record of finished inputs; appended by the driver alone."""

    def __init__(self, destination: Path) -> None:
        self.destination = destination
        self.path = destination / MANIFEST_NAME
        self._fd: int | None = None

    def records(self) -> Iterator[Record]:
        """Every complete line, in order; a line cut short by a crash is skipped."""
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8") as file:
            for line in file:
                try:
                    yield Record(**json.loads(line))
                except (ValueError, TypeError):
                    continue

    def done(self) -> dict[str, Record]:
        """The inputs whose output is still there with the checksum recorded (the last line
        about an input wins)."""
        latest = {record.input: record for record in self.records()}
        return {name: record for name, record in latest.items()
                if self._intact(record)}

    def _intact(self, record: Record) -> bool:
        output = self.destination / record.output
        return output.is_file() and sha256_of(output) == record.sha256

    def append(self, record: Record) -> None:
        """Add one line with a single ``write`` in append mode. Not fsynced line by line: the
        outputs are (``write_atomically``), and a line lost in a crash only makes the rerun do
        that input again, into the same file."""
        if self._fd is None:
            self.destination.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._fd, (json.dumps(asdict(record), ensure_ascii=False) + "\n").encode())

    def close(self) -> None:
        """Flush the lines to disk and close the file."""
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
