"""Photos and folders of photos through the matting service, each result written atomically."""

from __future__ import annotations

import sys
from pathlib import Path

from background_replacement.backgrounds import file_named
from background_replacement.images import IMAGE_SUFFIXES
from client.matting_client import MattingClient, MattingError

FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}


def format_for(path: Path, override: str | None = None) -> str:
    """The encode format for an output path: ``override``, else from its extension."""
    if override:
        return override
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise MattingError(f"cannot tell the format from {path.name!r}; use .png, .jpg or .webp")
    return fmt


def background_value(text: str) -> str | bytes:
    """A background written as the path of a file is uploaded (the service reads no paths);
    anything else is sent as text, for the service to parse. ``MattingError`` for a path that
    names no file."""
    try:
        path = file_named(text)
    except ValueError as exc:
        raise MattingError(str(exc)) from None
    return text if path is None else path.read_bytes()


def process_file(client: MattingClient, source: Path, target: Path, *, fmt: str,
                 background: str | bytes, output: str) -> None:
    """Matte one file and write the result atomically (a partial file never has its name)."""
    result = client.matte(source.read_bytes(), background=background, output=output, fmt=fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(result)
    partial.replace(target)


def process_folder(client: MattingClient, source_dir: Path, target_dir: Path, *,
                   fmt: str | None, background: str | bytes, output: str) -> int:
    """Matte every image in ``source_dir`` into ``target_dir`` (PNG unless ``fmt`` says
    otherwise), with a progress bar; a failed image is reported and the others go on. The exit
    status: 1 if any failed."""
    from tqdm import tqdm

    fmt = fmt or "png"
    extension = ".jpg" if fmt == "jpeg" else f".{fmt}"
    sources = sorted(p for p in source_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    failures = 0
    for source in tqdm(sources, unit="image", desc="matting"):
        try:
            process_file(client, source, target_dir / f"{source.stem}{extension}", fmt=fmt,
                         background=background, output=output)
        except MattingError as exc:
            failures += 1
            tqdm.write(f"error: {source}: {exc}", file=sys.stderr)
    print(f"wrote {len(sources) - failures} of {len(sources)} images to {target_dir}")
    return 1 if failures else 0
