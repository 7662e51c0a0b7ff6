"""Photos through the matting service (or the core in process), several at once: each result
written atomically (a partial file never has the result's name), or to stdout; a failed photo
is reported and the others go on."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from PIL import ImageColor

from background_replacement.background import file_named, parse_colour, written_as
from background_replacement.client.matting_client import MattingError
from background_replacement.files import write_atomically

# CSS colour functions, which the service does not read: sent as #rrggbb.
_COLOUR_FUNCTION = re.compile(r"^(rgba?|hs[lvb])\(", re.IGNORECASE)


def is_background_name(text: str) -> bool:
    """Whether ``text`` names one of the service's backgrounds: a name, not a colour or a word
    (the core's ``written_as``)."""
    return written_as(text) == "name"


def background_field(text: str) -> str | bytes:
    """What to send as ``/matte``'s ``background`` for what a user wrote, as the core's
    grammar classifies it (``written_as``): a word, a colour or a name as text (the service
    reads them); ``rgb(…)``/``hsl(…)``, which the service does not read, as ``#rrggbb``; the
    path of an existing file as its bytes. ``ValueError`` for a path that names no file
    (``beach.jpg``, ``photos/sky``) or anything else."""
    text = text.strip()
    if _COLOUR_FUNCTION.match(text):
        try:
            red, green, blue = ImageColor.getrgb(text)[:3]
        except ValueError:
            raise ValueError(f"--background {text!r} is not a colour") from None
        return f"#{red:02x}{green:02x}{blue:02x}"
    kind = written_as(text)
    if kind == "colour":
        try:
            parse_colour(text)
        except ValueError:
            raise ValueError(f"--background {text!r} is not a colour; write #rrggbb or "
                             "#rgb") from None
    if kind in ("word", "colour", "name"):
        return text
    if kind == "path":
        try:
            path = file_named(text)
        except ValueError:
            raise ValueError(f"--background {text!r}: no such file") from None
        if path is not None:
            return path.read_bytes()
    raise ValueError(f"--background {text!r} is neither a file nor a name, a colour, blur or "
                     "transparent")


class PhotoService(Protocol):
    """What makes the results: ``MattingClient`` over HTTP, or ``LocalService`` in process."""

    stop: threading.Event | None

    def matte(self, image: bytes, *, background: str | bytes = "green",
              output: str = "composite", fmt: str = "png", hint: bytes | None = None,
              **fields: str) -> bytes:
        """The encoded result for one encoded photo; ``MattingError`` on failure."""
        ...

    def max_in_flight(self) -> int | None:
        """How many photos to work on at once, or None when it is not known."""
        ...

    def background_names(self) -> list[str]:
        """The names of the named backgrounds."""
        ...


@dataclass(frozen=True)
class Matting:
    """What to ask ``/matte`` for, the same for every photo of a run."""

    background: str | bytes
    output: str
    fmt: str
    fields: dict[str, str] = field(default_factory=dict)  # if_no_person, people, trimap
    hint: bytes | None = None  # an encoded hint image (one photo)


@dataclass(frozen=True)
class Job:
    """One photo: read from ``source`` (None: stdin, read once into ``data``) and written to
    ``target`` (None: stdout)."""

    source: Path | None
    target: Path | None
    data: bytes | None = None

    @property
    def label(self) -> str:
        return str(self.source) if self.source is not None else "stdin"


def process(client: PhotoService, job: Job, matting: Matting) -> None:
    """Matte one photo and write the result; ``MattingError`` with a message on failure."""
    try:
        image = job.data if job.source is None else job.source.read_bytes()
    except OSError as exc:
        raise MattingError(f"cannot read it: {exc.strerror or exc}") from None
    result = client.matte(image, background=matting.background, output=matting.output,
                          fmt=matting.fmt, hint=matting.hint, **matting.fields)
    if job.target is None:
        sys.stdout.buffer.write(result)
        sys.stdout.buffer.flush()
        return
    try:
        write_atomically(job.target, result)
    except OSError as exc:
        raise MattingError(f"cannot write {job.target}: {exc.strerror or exc}") from None


@dataclass
class Tally:
    """How a run went, counted as photos finish; safe to share between threads."""

    written: int = 0
    skipped: int = 0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str) -> None:
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def total(self) -> int:
        return self.written + self.skipped + self.failed


class Runner:
    """Photos through the service, at most ``jobs`` requests at once, with a progress bar
    (``tqdm.auto``: a terminal's bar, or a notebook's widget) and one line per failure.

    ``submit`` may be called from any thread while the runner is open (watch mode adds photos
    as they arrive); ``close`` waits for every submitted photo, or with ``cancel`` only for
    those already being sent.
    """

    def __init__(self, client: PhotoService, matting: Matting, *, jobs: int,
                 skip_existing: bool = False, total: int | None = None, bar: bool = True,
                 report: Callable[[str], None] | None = None) -> None:
        from tqdm.auto import tqdm

        self.client, self.matting, self.skip_existing = client, matting, skip_existing
        self.tally = Tally()
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="matte")
        self._bar = tqdm(total=total, unit="image", desc="matting", file=sys.stderr,
                         disable=not bar)
        self._bar_lock = threading.Lock()
        self._report = report or (lambda line: self._bar.write(line, file=sys.stderr))

    def say(self, line: str) -> None:
        """Print a line on stderr without breaking the bar."""
        with self._bar_lock:
            self._report(line)

    def submit(self, job: Job) -> Future | None:
        """Queue one photo; None when it is skipped (its result exists, ``skip_existing``)."""
        if self.skip_existing and job.target is not None and job.target.exists():
            self._done("skipped")
            return None
        return self._pool.submit(self._run, job)

    def submit_all(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            self.submit(job)

    def _run(self, job: Job) -> None:
        try:
            process(self.client, job, self.matting)
        except MattingError as exc:
            self.say(f"error: {job.label}: {exc}")
            self._done("failed")
        else:
            self._done("written")

    def _done(self, outcome: str) -> None:
        self.tally.count(outcome)
        with self._bar_lock:
            if self._bar.total is not None and self.tally.total > self._bar.total:
                self._bar.total = self.tally.total
            self._bar.update(1)

    def close(self, *, cancel: bool = False) -> Tally:
        """Wait for the photos submitted (``cancel``: only those already started) and close
        the bar; the tally."""
        self._pool.shutdown(wait=True, cancel_futures=cancel)
        self._bar.close()
        return self.tally


def summary(tally: Tally, found: int, where: str, renames: dict[Path, Path]) -> str:
    """The closing lines: of the ``found`` photos, what was written where, skipped, failed,
    not started (interrupted), and which results were named apart."""
    parts = [f"wrote {tally.written} of {found} images to {where}"]
    if tally.skipped:
        parts.append(f"{tally.skipped} skipped (result already there)")
    if tally.failed:
        parts.append(f"{tally.failed} failed")
    if found > tally.total:
        parts.append(f"{found - tally.total} not started")
    lines = ["; ".join(parts)]
    if renames:
        lines.append(f"{len(renames)} named apart, as two or more sources would have had one "
                     "name:")
        lines += [f"  {source} -> {target}" for source, target in sorted(renames.items())]
    return "\n".join(lines)
