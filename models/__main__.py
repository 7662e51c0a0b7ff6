"""``remove-background-models fetch maskrcnn|fba|all``: download weights into models/ and check
them.

Each file comes through torch.hub's verified download: a progress bar, a temporary file beside
the target, its SHA-256 checked against the catalogue's, and the file put in place only when it
matches; a failed or interrupted download leaves nothing behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from background_replacement.models import CATALOG, WeightsFile


class FetchError(RuntimeError):
    """A download that failed or did not match its published hash."""


def fetch(weights: WeightsFile, force: bool = False, directory: Path | None = None,
          progress: bool = True) -> Path:
    """Download ``weights`` into ``directory`` (default: models/); its path. An existing file
    is kept unless ``force``. Raises ``FetchError`` when the download fails or its hash does
    not match; nothing is left under the target's name or beside it then."""
    from torch.hub import download_url_to_file

    target = (directory / weights.filename) if directory else weights.default_path
    if target.exists() and not force:
        print(f"{target} is already there")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {weights.filename} ({weights.licence})", file=sys.stderr)
    try:
        download_url_to_file(weights.url, str(target), hash_prefix=weights.sha256,
                             progress=progress)
    except RuntimeError as exc:  # torch.hub's "invalid hash value (expected …, got …)"
        raise FetchError(f"{weights.filename} from {weights.url} is not the published file "
                         f"({exc}; the expected hash is from {weights.sha256_source}); "
                         "nothing was saved") from exc
    except OSError as exc:  # refused, HTTP errors (urllib's URLError), a full disk
        raise FetchError(f"could not download {weights.filename} from {weights.url}: {exc}; "
                         "nothing was saved") from exc
    print(f"saved {target} (sha256 checked)")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="remove-background-models",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_parser = sub.add_parser("fetch", help="download weights into models/")
    fetch_parser.add_argument("which", choices=[*CATALOG, "all"])
    fetch_parser.add_argument("--force", action="store_true", help="download again")
    fetch_parser.add_argument("--dir", type=Path, help="download here instead of models/ "
                              "(then point MASKRCNN_WEIGHTS / FBA_WEIGHTS at the files)")
    args = parser.parse_args(argv)
    chosen = list(CATALOG.values()) if args.which == "all" else [CATALOG[args.which]]
    try:
        for weights in chosen:
            fetch(weights, force=args.force, directory=args.dir)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the file being downloaded was not saved", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
