"""The HTTP client of the matting service, shared by the photo and video commands."""

from __future__ import annotations

import argparse
import io
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import numpy as np
import requests
from PIL import Image

from background_replacement.service_common.protocol import API_KEY_HEADER, MATTING_PORT

DEFAULT_SERVER = f"http://127.0.0.1:{MATTING_PORT}"
# Requests at once when the service does not say how many it works on (its /healthz).
FALLBACK_IN_FLIGHT = 2
API_KEY_VARIABLE = "REMOVE_BACKGROUND_API_KEY"  # where the commands find a key by default
SERVER_VARIABLE = "REMOVE_BACKGROUND_SERVER"  # where they find the service by default


class MattingError(RuntimeError):
    """The matting service refused or failed a request; the message is the server's."""


def _with_scheme(text: str) -> str:
    """``HOST:PORT``, as people type it, means ``http://HOST:PORT``."""
    text = text.strip()
    return text if "://" in text else f"http://{text}"


def server_url(text: str) -> str:
    """The service's base URL from what a user typed (``127.0.0.1:5000`` means
    ``http://127.0.0.1:5000``), without a trailing ``/``. ``ValueError`` for a scheme other
    than http or https, or no host."""
    url = _with_scheme(text)
    scheme, rest = url.split("://", 1)
    if scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise ValueError(f"--server {text!r}: give http://HOST:PORT or HOST:PORT")
    return url.rstrip("/")


def add_server_argument(parser: argparse.ArgumentParser, *flags: str) -> None:
    """``--server`` (and ``flags``, such as ``-s``), for the commands that talk to the matting
    service; its default comes from ``SERVER_VARIABLE``."""
    parser.add_argument(*flags, "--server",
                        default=os.environ.get(SERVER_VARIABLE) or DEFAULT_SERVER,
                        help="the matting service: http://HOST:PORT or HOST:PORT (default: the "
                             f"{SERVER_VARIABLE} environment variable, else {DEFAULT_SERVER}; "
                             "now %(default)s)")


def add_api_key_argument(parser: argparse.ArgumentParser) -> None:
    """``--api-key``, for the commands that talk to the matting service."""
    parser.add_argument("--api-key", default=os.environ.get(API_KEY_VARIABLE) or None,
                        help="the key a service with API_KEYS set asks for (default: the "
                             f"{API_KEY_VARIABLE} environment variable)")


@dataclass(frozen=True)
class MatteAnswer:
    """A successful ``/matte`` answer: the encoded image and what the headers say."""

    content: bytes
    people_count: int | None  # X-People-Count, when the service sent it
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

    server: str = DEFAULT_SERVER  # a base URL; see server_url for what users type
    api_key: str | None = None  # sent as X-Api-Key with every request when the service wants one
    timeout: float = 300.0
    retries: int = 8
    max_retry_wait: float = 30.0
    stop: threading.Event | None = None
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)

    def __post_init__(self) -> None:
        self.server = _with_scheme(self.server)

    @property
    def session(self) -> requests.Session:
        """The calling thread's session."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            if self.api_key:
                session.headers[API_KEY_HEADER] = self.api_key
        return session

    def matte(self, image: bytes, *, background: str | bytes = "green", output: str = "composite",
              fmt: str = "png", trimap: bytes | None = None, hint: bytes | None = None,
              **params: str) -> bytes:
        """The encoded result for one encoded image; raises ``MattingError`` on failure."""
        return self.request(image, background=background, output=output, fmt=fmt,
                            trimap=trimap, hint=hint, **params).content

    def request(self, image: bytes, *, background: str | bytes = "green",
                output: str = "composite", fmt: str = "png", trimap: bytes | None = None,
                hint: bytes | None = None, **params: str) -> MatteAnswer:
        """Like ``matte``, with the answer's headers (people found, backends, timings).

        ``background`` is a name, ``#rrggbb``, ``blur``, ``transparent`` or an encoded image;
        ``trimap`` an encoded trimap that skips segmentation; ``hint`` an encoded hint image
        merged into the trimap; ``params`` more form fields (``if_no_person``, ``people``,
        ``points``, the trimap parameters).
        """
        files = {"image": ("image", image)}
        data = {"output": output, "format": fmt, **params}
        if isinstance(background, bytes):
            files["background"] = ("background", background)
        else:
            data["background"] = background
        for name, upload in (("trimap", trimap), ("hint", hint)):
            if upload is not None:
                files[name] = (name, upload)
        response = self._send("POST", "/matte", files=files, data=data)
        people = response.headers.get("X-People-Count")
        return MatteAnswer(response.content, int(people) if people is not None else None,
                           dict(response.headers))

    def max_in_flight(self) -> int | None:
        """How many requests the service works on at once (``GET /healthz``), or None when it
        does not say."""
        value = self._send("GET", "/healthz").json().get("max_in_flight")
        return value if isinstance(value, int) and value > 0 else None

    def background_names(self) -> list[str]:
        """The names of the service's named backgrounds (``GET /backgrounds``)."""
        return [entry["name"] for entry in self._send("GET", "/backgrounds").json()["backgrounds"]]

    def background(self, name: str, width: int, height: int) -> np.ndarray:
        """The named background as the service draws it behind a width×height photo (scaled to
        cover and centre-cropped), RGB uint8 H×W×3."""
        answer = self._send("GET", f"/backgrounds/{name}",
                            params={"width": str(width), "height": str(height)})
        with Image.open(io.BytesIO(answer.content)) as image:
            return np.asarray(image.convert("RGB"))

    def _send(self, method: str, path: str, **arguments) -> requests.Response:
        """A request with bounded retries on 503/429 + ``Retry-After``; 200 or
        ``MattingError``."""
        url = f"{self.server.rstrip('/')}{path}"
        retried = 0
        while True:
            try:
                response = self.session.request(method, url, timeout=self.timeout, **arguments)
            except requests.Timeout:
                raise MattingError(f"the matting service at {self.server} did not answer "
                                   f"within {self.timeout:g} s") from None
            except requests.ConnectionError:
                raise MattingError(f"cannot reach the matting service at {self.server}; is it "
                                   "running?") from None
            except requests.RequestException as exc:
                raise MattingError(f"cannot talk to the matting service at {self.server}: "
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
    """Seconds to wait before retrying an overloaded answer (503/429 with ``Retry-After``), or
    ``None`` when the answer is not worth retrying."""
    if response.status_code not in (429, 503):
        return None
    return retry_after_seconds(response.headers.get("Retry-After"))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header's delay in seconds: it is either seconds or an HTTP-date
    (RFC 9110 §10.2.3); a date in the past is 0. None when absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _error_message(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['message']} ({response.status_code} {error['code']})"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"
