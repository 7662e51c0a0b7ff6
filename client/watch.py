"""Watch a folder tree for photos that land in it, and hand each on once it is completely
written (the watchdog package: inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on
Windows)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from background_replacement.files import find_images, is_image

SETTLE_SECONDS = 0.5  # a photo's size and time of change must hold still this long
# A folder that has just landed is searched again for this long: what lands in it before the
# platform watches it makes no event.
FRESH_FOLDER_SECONDS = 2.0
POLL_SECONDS = 0.1


@dataclass
class _Landing:
    """A photo landing: its last (size, mtime), since when it has held, and whether a writer
    has changed it without closing it yet."""

    signature: tuple[int, int] | None = None
    since: float = 0.0
    writing: bool = False


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


class Arrivals(FileSystemEventHandler):
    """The photos landing under ``root`` (not under ``skip``), and which of them are ready.

    A photo is ready once it is not empty, no writer holds it open after changing it (a
    change is followed by a close; a photo moved in lands complete) and its size and time of
    change have held still for ``settle`` seconds. Where the platform reports no closing
    (``closes`` false: not inotify), holding still is the only sign. A photo already handed
    on is handed on again only when it changes.
    """

    def __init__(self, root: Path, *, skip: Path | None = None, closes: bool = True,
                 settle: float = SETTLE_SECONDS) -> None:
        self.root, self.closes, self.settle = root.resolve(), closes, settle
        self.skip = skip.resolve() if skip is not None else None
        self._landing: dict[Path, _Landing] = {}
        self._handed: dict[Path, tuple[int, int]] = {}
        self._fresh: dict[Path, float] = {}  # folders just landed: when
        self._lock = threading.Lock()

    def _note(self, raw: str | bytes, *, writing: bool | None = None,
              found: bool = False) -> None:
        """Note an event on a photo: ``writing`` True after a change, False after a close,
        None for neither; ``found``: seen by searching a folder, which leaves a photo already
        noted as it was."""
        path = Path(raw if isinstance(raw, str) else raw.decode()).resolve()
        if not path.is_relative_to(self.root) or not is_image(path.relative_to(self.root)):
            return
        if self.skip is not None and path.is_relative_to(self.skip):
            return
        with self._lock:
            if found and (path in self._landing or path in self._handed):
                return
            landing = self._landing.setdefault(path, _Landing())
            if writing is not None:
                landing.writing = writing

    def on_created(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self._scan(event.src_path)
        else:
            self._note(event.src_path)

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._note(event.src_path, writing=True)

    def on_closed(self, event: FileSystemEvent) -> None:
        self._note(event.src_path, writing=False)

    def on_moved(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self._scan(event.dest_path)
        else:
            self._note(event.dest_path, writing=False)

    def _scan(self, folder: str | bytes) -> None:
        """Note the photos in a folder that just landed, and search it again over the next
        ``FRESH_FOLDER_SECONDS``."""
        folder = Path(folder if isinstance(folder, str) else folder.decode())
        with self._lock:
            self._fresh[folder] = time.monotonic()
        self._search(folder)

    def _search(self, folder: Path) -> None:
        for relative in find_images(folder):
            self._note(str(folder / relative), found=True)

    def ready(self, now: float | None = None) -> list[Path]:
        """The photos that have finished landing, taken off the list; a vanished one is
        dropped."""
        now = time.monotonic() if now is None else now
        with self._lock:
            fresh = [folder for folder, since in self._fresh.items()
                     if now - since < FRESH_FOLDER_SECONDS]
            self._fresh = {folder: self._fresh[folder] for folder in fresh}
        for folder in fresh:
            self._search(folder)
        done = []
        with self._lock:
            for path, landing in list(self._landing.items()):
                signature = _signature(path)
                if signature is None:
                    del self._landing[path]
                elif signature != landing.signature:
                    landing.signature, landing.since = signature, now
                elif (not (landing.writing and self.closes) and signature[0] > 0
                      and now - landing.since >= self.settle):
                    del self._landing[path]
                    if self._handed.get(path) != signature:
                        self._handed[path] = signature
                        done.append(path)
        return done


def watch(root: Path, hand_on: Callable[[Path], None], stop: threading.Event, *,
          skip: Path | None = None, started: Callable[[], None] | None = None) -> None:
    """Call ``hand_on(path)`` for each photo that lands under ``root`` (recursively, nothing
    under ``skip``) once it is completely written, until ``stop`` is set; ``started`` is called
    once the folder is being watched."""
    observer = Observer()
    arrivals = Arrivals(root, skip=skip,
                        closes=type(observer).__name__ == "InotifyObserver")
    observer.schedule(arrivals, str(root), recursive=True)
    observer.start()
    try:
        if started is not None:
            started()
        while not stop.wait(POLL_SECONDS):
            for path in arrivals.ready():
                hand_on(path)
    finally:
        observer.stop()
        observer.join()
