"""Send photos to the matting service and save what it answers.

    python -m client.remove_background INPUT OUTPUT [--background green] [--output composite]
                                       [--server http://127.0.0.1:5000]

The format follows OUTPUT's extension (.png, .jpg/.jpeg, .webp). A folder INPUT processes every
image in it into the folder OUTPUT (PNG unless --format says otherwise), with a progress bar.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

DEFAULT_SERVER = "http://127.0.0.1:5000"
FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


class MattingError(RuntimeError):
    """The matting service refused or failed a request; the message is the server's."""


@dataclass
class MattingClient:
    """One pooled HTTP session to the matting service."""

    server: str = DEFAULT_SERVER
    timeout: float = 300.0

    def __post_init__(self) -> None:
        self.session = requests.Session()

    def matte(self, image: bytes, *, background: str | bytes = "green", output: str = "composite",
              fmt: str = "png", **params: str) -> bytes:
        """The encoded result for one encoded image; raises ``MattingError`` on failure."""
        files = {"image": ("image", image)}
        data = {"output": output, "format": fmt, **params}
        if isinstance(background, bytes):
            files["background"] = ("background", background)
        else:
            data["background"] = background
        try:
            response = self.session.post(f"{self.server.rstrip('/')}/matte", files=files,
                                         data=data, timeout=self.timeout)
        except requests.RequestException as exc:
            raise MattingError(f"cannot reach the matting service at {self.server}: {exc}") from exc
        if response.status_code != 200:
            try:
                error = response.json()["error"]
                message = f"{error['message']} ({response.status_code} {error['code']})"
            except (ValueError, KeyError, TypeError):
                message = f"{response.status_code} {response.text[:200]}"
            raise MattingError(message)
        return response.content


def format_for(path: Path, override: str | None = None) -> str:
    """The encode format for an output path: ``override``, else from its extension."""
    if override:
        return override
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise MattingError(f"cannot tell the format from {path.name!r}; use .png, .jpg or .webp")
    return fmt


def _background_value(text: str) -> str | bytes:
    """A path to an existing image file is uploaded; anything else is sent as text."""
    path = Path(text)
    return path.read_bytes() if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() else text


def process_file(client: MattingClient, source: Path, target: Path, *, fmt: str,
                 background: str | bytes, output: str) -> None:
    """Matte one file and write the result atomically (a partial file never has its name)."""
    result = client.matte(source.read_bytes(), background=background, output=output, fmt=fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(result)
    partial.replace(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m client.remove_background",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="an image, or a folder of images")
    parser.add_argument("output", type=Path, help="the result file, or a folder for a folder")
    parser.add_argument("--background", default="green",
                        help="a name from the server's backgrounds, #rrggbb, blur, transparent, "
                             "or the path of an image (default: green)")
    parser.add_argument("--output", dest="kind", default="composite",
                        choices=["composite", "cutout", "alpha", "foreground", "trimap"])
    parser.add_argument("--format", choices=["png", "jpeg", "webp"],
                        help="override the format (default: from OUTPUT's extension; png in "
                             "folder mode)")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="the matting service's URL")
    args = parser.parse_args(argv)

    client = MattingClient(args.server)
    background = _background_value(args.background)
    try:
        if args.input.is_dir():
            return _process_folder(client, args, background)
        if not args.input.is_file():
            raise MattingError(f"{args.input} does not exist")
        fmt = format_for(args.output, args.format)
        process_file(client, args.input, args.output, fmt=fmt, background=background,
                     output=args.kind)
    except MattingError as exc:
        print(f"error: {args.input}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


def _process_folder(client: MattingClient, args: argparse.Namespace,
                    background: str | bytes) -> int:
    from tqdm import tqdm

    fmt = args.format or "png"
    extension = ".jpg" if fmt == "jpeg" else f".{fmt}"
    sources = sorted(p for p in args.input.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    failures = 0
    for source in tqdm(sources, unit="image", desc="matting"):
        try:
            process_file(client, source, args.output / f"{source.stem}{extension}", fmt=fmt,
                         background=background, output=args.kind)
        except MattingError as exc:
            failures += 1
            tqdm.write(f"error: {source}: {exc}", file=sys.stderr)
    print(f"wrote {len(sources) - failures} of {len(sources)} images to {args.output}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
