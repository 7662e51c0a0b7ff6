"""Where each photo's result goes: the images of a folder tree, the output's format, and output
names that never overwrite one another. Pure functions over paths; nothing here writes. The
folder walk is the core's (``background_replacement.files.find_images``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from background_replacement.images import SUFFIX_FORMATS as FORMATS

STDIO = Path("-")  # the path that means stdin as the input, stdout as the output
# The extension a format's results get: its first in FORMATS.
EXTENSIONS = {fmt: suffix for suffix, fmt in reversed(FORMATS.items())}
DEFAULT_FORMAT = "png"


def format_for(path: Path, override: str | None = None) -> str:
    """The encode format for an output file: ``override``, else from its extension;
    ``ValueError`` when neither says."""
    if override:
        return override
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the format from {path.name!r}; end it in .png, .jpg or "
                         ".webp, or give --format")
    return fmt


def plan_targets(sources: Iterable[Path], extension: str, *,
                 flat: bool = False) -> dict[Path, Path]:
    """The output path, relative to the output folder, of each relative source path.

    A result keeps its source's folder (unless ``flat``) and stem, with ``extension``
    (``photo.jpg`` → ``photo.png``). Where several sources would get one name (``astronaut.jpg``
    and ``astronaut.webp``; with ``flat``, ``a/x.jpg`` and ``b/x.jpg``; or names differing
    only in case, which are one file on macOS and Windows), each of them keeps its whole
    name instead (``astronaut.jpg.png``, ``astronaut.webp.png``), so that no result looks like
    another source's; if that still clashes, ``-1``, ``-2``, … follow, in the sources' order.
    The same set of sources always gets the same names.
    """
    sources = sorted(set(sources))

    def folder(source: Path) -> Path:
        return Path() if flat else source.parent

    def key(path: Path) -> str:
        return str(path).casefold()

    natural: dict[str, list[Path]] = defaultdict(list)
    for source in sources:
        natural[key(folder(source) / f"{source.stem}{extension}")].append(source)
    targets: dict[Path, Path] = {}
    for members in natural.values():
        if len(members) == 1:
            targets[members[0]] = folder(members[0]) / f"{members[0].stem}{extension}"
    taken = {key(target) for target in targets.values()}
    for members in natural.values():
        if len(members) == 1:
            continue
        for source in members:
            target, number = folder(source) / f"{source.name}{extension}", 0
            while key(target) in taken:
                number += 1
                target = folder(source) / f"{source.name}-{number}{extension}"
            taken.add(key(target))
            targets[source] = target
    return targets


def renamed(targets: dict[Path, Path], extension: str) -> dict[Path, Path]:
    """Those of ``targets`` whose name is not the source's stem with ``extension``."""
    return {source: target for source, target in targets.items()
            if target.name != f"{source.stem}{extension}"}
