"""API keys: off unless configured; then every POST needs a valid key in ``X-Api-Key``, and so
does any request that carries one (the matting service's readiness check of the segmentation
service goes through the same check as its uploads).

Keys come from the environment (``API_KEYS``, comma-separated) or a file (``API_KEYS_FILE``, one
key a line, ``#`` comments), never from the repository. They are compared in constant time and
never logged. GET routes (health checks, the OpenAPI document, the page and its files) stay open
to requests without a key. A refused request is answered before its body is parsed and takes
no in-flight slot; behind the front (``service_common.front``) its body arrives at loopback speed,
since nginx has read it within the front's size and time limits.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from flask import Flask, request

from background_replacement.service_common.errors import error_response
from background_replacement.service_common.protocol import API_KEY_HEADER as HEADER


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


def require_api_keys(app: Flask, keys: frozenset[str]) -> None:
    """Answer a POST without a valid key, or any request with an invalid one, with 403 JSON;
    do nothing when ``keys`` is empty."""
    if not keys:
        return

    @app.before_request
    def _check_key():
        given = request.headers.get(HEADER)
        if (request.method != "POST" and given is None) or is_valid_key(given, keys):
            return None
        if given is None:
            return error_response(403, "api_key_missing",
                                  f"This service needs an API key in the {HEADER} header.")
        return error_response(403, "api_key_invalid", f"The {HEADER} header holds no valid key.")
