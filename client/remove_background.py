"""Send photos to the matting service and save what it answers.

    remove-background INPUT OUTPUT [--background green] [--output composite]
                      [--server http://127.0.0.1:5000]

The format follows OUTPUT's extension (.png, .jpg/.jpeg, .webp). A folder INPUT processes every
image in it into the folder OUTPUT (PNG unless --format says otherwise), with a progress bar.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from background_replacement.backgrounds import DEFAULT_BACKGROUND
from background_replacement.pipeline import OUTPUTS
from client.matting_client import DEFAULT_SERVER, MattingClient, MattingError
from client.photos import FORMATS, background_value, format_for, process_file, process_folder


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command's arguments."""
    parser = argparse.ArgumentParser(prog="remove-background",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="an image, or a folder of images")
    parser.add_argument("output", type=Path, help="the result file, or a folder for a folder")
    parser.add_argument("--background", default=DEFAULT_BACKGROUND,
                        help="a name from the server's backgrounds, #rrggbb, a CSS colour name, "
                             "blur, transparent, or the path of an image (default: %(default)s)")
    parser.add_argument("--output", dest="kind", default=OUTPUTS[0], choices=OUTPUTS)
    parser.add_argument("--format", choices=sorted(set(FORMATS.values())),
                        help="override the format (default: from OUTPUT's extension; png in "
                             "folder mode)")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="the matting service's URL")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    client = MattingClient(args.server)
    try:
        background = background_value(args.background)
        if args.input.is_dir():
            return process_folder(client, args.input, args.output, fmt=args.format,
                                  background=background, output=args.kind)
        if not args.input.is_file():
            raise MattingError(f"{args.input} does not exist")
        process_file(client, args.input, args.output, fmt=format_for(args.output, args.format),
                     background=background, output=args.kind)
    except MattingError as exc:
        print(f"error: {args.input}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
