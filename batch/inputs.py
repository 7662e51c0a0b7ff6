"""What a batch job works on: the photos of a folder (recursively) or of a list file, or one
video; each photo's name relative to the inputs' root, and its output's name under the
destination."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from background_replacement.files import find_images
from background_replacement.images import IMAGE_SUFFIXES

LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})


@dataclass(frozen=True)
class PhotoInput:
    """``name``: the path relative to the inputs' root (the manifest's key, POSIX form);
    ``output``: the result's path relative to the destination."""

    source: Path
    name: str
    output: str


def is_list_file(path: Path) -> bool:
    """A file of photo paths, one a line (its suffix says so)."""
    return path.is_file() and path.suffix.lower() in LIST_SUFFIXES


def is_photo(path: Path) -> bool:
    """An image file (by its suffix)."""
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def folder_photos(folder: Path, skip: Path | None = None) -> list[Path]:
    """Every image under ``folder``, recursively, sorted, leaving out ``skip`` (the destination,
    when it lies inside) and hidden files and folders: the core's folder walk."""
    return [folder / relative for relative in find_images(folder, skip)]


def listed_photos(list_file: Path) -> list[Path]:
    """The paths a list file names, one a line (blank lines and ``#`` comments skipped; relative
    paths are from the list file's folder). ``ValueError`` for a line naming no file."""
    paths = []
    for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        path = (list_file.parent / text).expanduser()
        if not path.is_file():
            raise ValueError(f"{list_file}:{number}: {text} is not a file")
        paths.append(path)
    return paths


def photo_inputs(sources: list[Path], root: Path, extension: str) -> list[PhotoInput]:
    """Name each photo by its path relative to ``root`` and its output by the same path with
    ``extension``; ``ValueError`` when two photos would write the same output (``a.jpg`` and
    ``a.png``) or one is named twice."""
    inputs, seen = [], {}
    for source in sources:
        relative = Path(os.path.relpath(source.resolve(), root.resolve()))
        if relative.parts and relative.parts[0] == os.pardir:
            relative = Path(*source.resolve().parts[1:])  # outside the root: its whole path
        output = relative.with_suffix(extension).as_posix()
        if output in seen:
            raise ValueError(f"{seen[output]} and {source} would both be written to {output}")
        seen[output] = source
        inputs.append(PhotoInput(source, relative.as_posix(), output))
    return inputs


def common_root(paths: list[Path]) -> Path:
    """The deepest folder holding every path."""
    if not paths:
        return Path(".")
    return Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
