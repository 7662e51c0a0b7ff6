"""Send photos to the matting service and save what it answers.

    python -m client.remove_background INPUT OUTPUT [--background green] [--output composite]
                                       [--server http://127.0.0.1:5000]

The format follows OUTPUT's extension (.png, .jpg/.jpeg, .webp). A folder INPUT processes every
image in it into the folder OUTPUT (PNG unless --format says otherwise), with a progress bar.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

DEFAULT_SERVER = "http://127.0.0.1:5000"
FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


class MattingError(RuntimeError):
    """The matting service refused or failed a request; the message is the server's."""


@dataclass(frozen=True)
class MatteAnswer:
    """A successful ``/matte`` answer: the encoded image and what the headers say."""

    content: bytes
    people: int | None  # X-People-Count, when the service sent it
    headers: dict[str, str]


@dataclass
class MattingClient:
    """An HTTP client of the matting service, safe to share between threads.

    Each thread gets its own pooled ``requests.Session``. A 503 or 429 that carries
    ``Retry-After`` (the service is overloaded, or its segmentation service is briefly away) is
    retried after the time it names, capped at ``max_retry_wait`` seconds, at most ``retries``
    times; any other failure raises ``MattingError`` at once. Setting ``stop`` ends any wait
    for a retry at once, with ``MattingError``.
    """

    server: str = DEFAULT_SERVER
    timeout: float = 300.0
    retries: int = 8
    max_retry_wait: float = 30.0
    stop: threading.Event | None = None
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)

    @property
    def session(self) -> requests.Session:
        """The calling thread's session."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def matte(self, image: bytes, *, background: str | bytes = "green", output: str = "composite",
              fmt: str = "png", trimap: bytes | None = None, **params: str) -> bytes:
        """The encoded result for one encoded image; raises ``MattingError`` on failure."""
        return self.request(image, background=background, output=output, fmt=fmt,
                            trimap=trimap, **params).content

    def request(self, image: bytes, *, background: str | bytes = "green",
                output: str = "composite", fmt: str = "png", trimap: bytes | None = None,
                **params: str) -> MatteAnswer:
        """Like ``matte``, with the answer's headers (people found, backends, timings).

        ``background`` is a name, ``#rrggbb``, ``blur``, ``transparent`` or an encoded image;
        ``trimap`` an encoded trimap that skips segmentation; ``params`` more form fields
        (``if_no_person``, the trimap parameters).
        """
        files = {"image": ("image", image)}
        data = {"output": output, "format": fmt, **params}
        if isinstance(background, bytes):
            files["background"] = ("background", background)
        else:
            data["background"] = background
        if trimap is not None:
            files["trimap"] = ("trimap", trimap)
        response = self._post("/matte", files, data)
        people = response.headers.get("X-People-Count")
        return MatteAnswer(response.content, int(people) if people is not None else None,
                           dict(response.headers))

    def _post(self, path: str, files: dict, data: dict) -> requests.Response:
        """POST with bounded retries on 503/429 + ``Retry-After``; 200 or ``MattingError``."""
        url = f"{self.server.rstrip('/')}{path}"
        retried = 0
        while True:
            try:
                response = self.session.post(url, files=files, data=data, timeout=self.timeout)
            except requests.RequestException as exc:
                raise MattingError(f"cannot reach the matting service at {self.server}: "
                                   f"{exc}") from exc
            if response.status_code == 200:
                return response
            wait = retry_after(response)
            if wait is None or retried >= self.retries:
                raise MattingError(_error_message(response))
            retried += 1
            if self._wait(min(wait, self.max_retry_wait)):
                raise MattingError(f"stopped while waiting to retry: {_error_message(response)}")

    def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; True when ``stop`` was set meanwhile."""
        if self.stop is None:
            time.sleep(seconds)
            return False
        return self.stop.wait(seconds)


def retry_after(response: requests.Response) -> float | None:
    """Seconds to wait before retrying an overloaded answer (503/429 with ``Retry-After`` in
    seconds), or ``None`` when the answer is not worth retrying."""
    if response.status_code not in (429, 503):
        return None
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def _error_message(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['message']} ({response.status_code} {error['code']})"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"


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
