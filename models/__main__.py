"""``python -m models fetch maskrcnn|fba|all``: download weights into models/ and check them."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from models import CATALOG, WeightsFile


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(weights: WeightsFile, force: bool = False, directory: Path | None = None) -> Path:
    """Download ``weights`` into ``directory`` (default: models/) atomically, checking its hash
    prefix."""
    import requests

    target = directory / weights.filename if directory else weights.default_path
    if target.exists() and not force:
        print(f"{target} is already there")
        return target
    partial = target.with_suffix(".part")
    print(f"downloading {weights.filename} ({weights.licence})")
    with requests.get(weights.url, stream=True, timeout=(10, 120)) as response:
        response.raise_for_status()
        if response.headers.get("content-type", "").startswith("text/html"):
            raise SystemExit(f"{weights.url} answered a web page, not the weights file")
        with partial.open("wb") as handle:
            for block in response.iter_content(1 << 20):
                handle.write(block)
    if weights.sha256_prefix:
        digest = sha256_of(partial)
        if not digest.startswith(weights.sha256_prefix):
            partial.unlink()
            raise SystemExit(f"{weights.filename}: sha256 {digest[:16]}… does not start with "
                             f"{weights.sha256_prefix}; the download is not the published file")
    partial.replace(target)
    print(f"saved {target}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="remove-background-models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_parser = sub.add_parser("fetch", help="download weights into models/")
    fetch_parser.add_argument("which", choices=[*CATALOG, "all"])
    fetch_parser.add_argument("--force", action="store_true", help="download again")
    fetch_parser.add_argument("--dir", type=Path, help="download here instead of models/ "
                              "(then point MASKRCNN_WEIGHTS / FBA_WEIGHTS at the files)")
    args = parser.parse_args(argv)
    chosen = list(CATALOG.values()) if args.which == "all" else [CATALOG[args.which]]
    for weights in chosen:
        fetch(weights, force=args.force, directory=args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
