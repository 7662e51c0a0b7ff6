"""API keys: off unless configured; then every POST needs a valid key in ``X-Api-Key``, and so
does any request that carries one (the matting service's readiness check of the segmentation
service goes through the same check as its uploads).

Keys come from the environment (``API_KEYS``, comma-separated) or a file (``API_KEYS_FILE``, one
key a line, ``#`` comments), never from the repository. They are compared in constant time and
never logged. GET routes (health checks, the OpenAPI document, the page and its files) stay open
to requests without a key. A refused request is answered before its body is parsed and takes
no in-flight slot. Behind the front (``service_common.front``) nginx asks ``KEY_CHECK_PATH``
about each request's key as soon as its headers have arrived, and refuses a wrong or missing
one itself, without reading or buffering the upload. A client that sends
``BAD_KEYS_ALLOWED`` wrong keys within ``BAD_KEY_WINDOW_S`` is refused with 429 and
``Retry-After`` until that window ends, whatever key it sends meanwhile, so keys cannot be
guessed at the service's speed (counted per worker process).
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Request, request

from background_replacement.service_common.errors import error_response
from background_replacement.service_common.protocol import API_KEY_HEADER as HEADER

BAD_KEYS_ALLOWED = 20  # wrong keys a client may send ...
BAD_KEY_WINDOW_S = 60.0  # ... within this many seconds
TRACKED_CLIENTS = 10_000  # clients remembered at once; the longest-quiet are forgotten first
# The answers to a refused key, by code; the front serves the same bodies.
KEY_ERRORS = {"api_key_missing": f"This service needs an API key in the {HEADER} header.",
              "api_key_invalid": f"The {HEADER} header holds no valid key."}
# Where the front asks about a request's key before reading its body (nginx's auth_request):
# headers only, the request's method in ORIGINAL_METHOD; 204 to let it in, 403 with the error
# code in KEY_ERROR_HEADER to refuse it. A client locked out for wrong keys is let in, to be
# answered 429 with its Retry-After by the service itself.
KEY_CHECK_PATH = "/_front/key"
ORIGINAL_METHOD = "X-Original-Method"
KEY_ERROR_HEADER = "X-Key-Error"


def load_keys(inline: str, path: str) -> frozenset[str]:
    """The configured keys; raises ``ValueError`` naming the variable when the file is unusable."""
    keys = {key.strip() for key in inline.split(",") if key.strip()}
    if path:
        try:
            lines = Path(path).expanduser().read_text().splitlines()
        except OSError as exc:
            raise ValueError(f"API_KEYS_FILE={path!r} cannot be read: {exc.strerror}") from None
        keys |= {line.strip() for line in lines if line.strip() and not line.startswith("#")}
        if not keys:
            raise ValueError(f"API_KEYS_FILE={path!r} holds no key")
    if any(any(c.isspace() for c in key) for key in keys):
        raise ValueError("an API key may not contain spaces")
    return frozenset(keys)


def is_valid_key(given: str | None, keys: frozenset[str]) -> bool:
    """Whether ``given`` is one of ``keys``; every key is compared, each in constant time."""
    if given is None:
        return False
    candidate = given.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(candidate, key.encode())
    return found


class BadKeys:
    """Wrong keys by client: a client's count starts with its first wrong key and lasts
    ``window`` seconds; at ``allowed`` wrong keys the client is locked out until it ends."""

    def __init__(self, allowed: int = BAD_KEYS_ALLOWED, window: float = BAD_KEY_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.allowed, self.window, self.clock = allowed, window, clock
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def locked_for(self, client: str) -> float:
        """Seconds ``client`` stays locked out (0: not locked)."""
        with self._lock:
            started, count = self._current(client)
            return started + self.window - self.clock() if count >= self.allowed else 0.0

    def failed(self, client: str) -> None:
        """Count one wrong key from ``client``."""
        with self._lock:
            started, count = self._current(client)
            self._counts[client] = (started, count + 1)
            self._counts.move_to_end(client)
            while len(self._counts) > TRACKED_CLIENTS:
                self._counts.popitem(last=False)

    def _current(self, client: str) -> tuple[float, int]:
        now = self.clock()
        started, count = self._counts.get(client, (now, 0))
        return (now, 0) if now >= started + self.window else (started, count)


def client_address(incoming: Request) -> str:
    """Who sent the request: the address the front saw (the last ``X-Forwarded-For`` entry,
    which nginx appends) when it came through the front on loopback, else the peer's."""
    peer = incoming.remote_addr or ""
    forwarded = incoming.headers.get("X-Forwarded-For", "")
    try:
        through_front = ipaddress.ip_address(peer).is_loopback and forwarded
    except ValueError:
        through_front = False
    return forwarded.rsplit(",", 1)[-1].strip() if through_front else peer


def require_api_keys(app: Flask, keys: frozenset[str]) -> None:
    """Answer a POST without a valid key, or any request with an invalid one, with 403 JSON;
    do nothing when ``keys`` is empty. Also answers the front's ``KEY_CHECK_PATH`` (not a
    route of the app's: only the front, on loopback, has a use for it)."""
    if not keys:
        return
    bad_keys = BadKeys()

    @app.before_request
    def _check_key():
        given = request.headers.get(HEADER)
        checking = request.path == KEY_CHECK_PATH
        method = request.headers.get(ORIGINAL_METHOD, "POST") if checking else request.method
        let_in = ("", 204) if checking else None
        if method != "POST" and given is None:
            return let_in
        client = client_address(request)
        locked = bad_keys.locked_for(client)
        if locked > 0:
            return let_in if checking else error_response(
                429, "too_many_wrong_keys", "Too many wrong API keys from here; try again later.",
                {"Retry-After": str(math.ceil(locked))})
        if is_valid_key(given, keys):
            return let_in
        code = "api_key_missing" if given is None else "api_key_invalid"
        if given is not None:
            bad_keys.failed(client)
        return error_response(403, code, KEY_ERRORS[code],
                              {KEY_ERROR_HEADER: code} if checking else None)
