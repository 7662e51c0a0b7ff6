"""Files, written and found the one way every entry point uses: a result appears whole under its
name or not at all (``write_atomically`` through a ``partial_path``, which ``PARTIAL`` knows
again for clean-ups), and a folder's images are those ``find_images`` walks to."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from background_replacement.images import IMAGE_SUFFIXES

# ".<stem>.<8 hex>.partial<suffix>": hidden, so no folder walk takes it for an image, and
# never the name of a result; video.media.VideoWriter's too.
PARTIAL = re.compile(r"^\..+\.[0-9a-f]{8}\.partial(\.[^.]+)?$")


def partial_path(target: Path) -> Path:
    """A fresh temporary name beside ``target`` that ``PARTIAL`` matches; whatever writes it
    renames it to ``target`` when it is complete (``os.replace``)."""
    return target.with_name(f".{target.stem}.{secrets.token_hex(4)}.partial{target.suffix}")


def write_atomically(target: Path, data: bytes, *, sync: bool = False) -> str:
    """Write ``data`` to ``target`` through a ``partial_path`` renamed at the end (with
    ``sync``, flushed to disk first); the partial file is removed if anything fails. Returns
    the data's SHA-256 (hex)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    try:
        with partial.open("wb") as file:
            file.write(data)
            if sync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def remove_partials(folder: Path) -> int:
    """Delete the partial files that writers which died mid-write left under ``folder``;
    returns how many. Call it when nothing is writing there."""
    removed = 0
    for path in folder.rglob(".*.partial*"):
        if path.is_file() and PARTIAL.match(path.name):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def is_image(relative: Path) -> bool:
    """Whether a path inside a folder of photos is one to process: an image suffix, and
    neither it nor a folder on its way hidden (``.NAME``, as partial files are)."""
    return (relative.suffix.lower() in IMAGE_SUFFIXES
            and not any(part.startswith(".") for part in relative.parts))


def find_images(folder: Path, skip: Path | None = None) -> list[Path]:
    """The images under ``folder`` (``is_image``), recursively, as paths relative to it,
    sorted; nothing under ``skip`` (an output folder inside the input folder). Hidden folders
    and ``skip`` are not entered."""
    skip = skip.resolve() if skip is not None else None
    if skip is not None and folder.resolve().is_relative_to(skip):
        return []
    found = []
    for root, folders, files in os.walk(folder):
        here = Path(root)
        folders[:] = [name for name in folders if not name.startswith(".")
                      and (skip is None or not (here / name).resolve().is_relative_to(skip))]
        found += [(here / name).relative_to(folder) for name in files]
    return sorted(path for path in found if is_image(path) and (folder / path).is_file())
