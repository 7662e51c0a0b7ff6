"""gunicorn's access log without secrets: a key put in a URL's query string is masked. The
front's key checks that let a request in are not logged (the request itself is, once).

The services take keys only in the ``X-Api-Key`` header (never logged), but a careless client
may still send ``?api_key=…``: the request is refused, and its URL must not carry the key into
the log either.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

from background_replacement.service_common.api_keys import KEY_CHECK_PATH

# A query parameter whose name says it holds a secret, and its value.
_SECRET_PARAMETER = re.compile(
    r"(?i)([?&;](?:api[_-]?key|x-api-key|key|token|access_token|password|secret)=)[^&;\s\"]*")
_MASK = "***"
# The atoms of gunicorn's access log format that can hold a URL.
_URL_ATOMS = ("r", "q", "f", "U")


def mask_secrets(text: str) -> str:
    """``text`` with the value of every secret-named query parameter replaced by ``***``."""
    if "=" not in text:
        return text
    return _SECRET_PARAMETER.sub(lambda match: match.group(1) + _MASK, text)


class MaskingLogger(Logger):
    """gunicorn's logger, with secrets in URLs masked in every access log line."""

    def access(self, resp, req, environ, request_time):
        if req.path == KEY_CHECK_PATH and str(resp.status).startswith("204"):
            return
        super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in _URL_ATOMS:
            value = atoms.get(name)
            if isinstance(value, str):
                # A bare query string ("q") has no leading "?": mask it as if it had one.
                atoms[name] = mask_secrets("?" + value)[1:] if name == "q" else mask_secrets(value)
        return atoms
