"""The front: nginx in front of the matting service's gunicorn, so slow clients cost it nothing.

gunicorn's threads read a request themselves: a client that sends its headers or its upload one
byte a second holds a thread (and, once past the key check, an in-flight slot) for as long as it
likes. nginx reads each whole request first, within time limits, holding only a small buffer per
connection, and passes it on at loopback speed. So a worker thread is taken only for a request
that has fully arrived, and its answer is buffered back the same way.

``remove-background-services`` (service_common.serve) writes the configuration into a temporary
folder and runs ``nginx`` in the foreground beside gunicorn (Debian's ``nginx-light``;
scripts/setup.sh and deploy/Containerfile install it). Errors nginx answers
itself (a header or body too slow, too large, a malformed chunk) are JSON in the service's shape,
or remove.bg's under ``/v1.0/``. Where the service has API keys, nginx asks it about each
request's key once the headers are in (``api_keys.KEY_CHECK_PATH``) and refuses a wrong or
missing one with the service's own 403 before reading the upload.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from background_replacement.service_common.api_keys import (
    KEY_CHECK_PATH,
    KEY_ERROR_HEADER,
    KEY_ERRORS,
    ORIGINAL_METHOD,
    load_keys,
)
from background_replacement.service_common.http import SECURITY_HEADERS
from background_replacement.service_common.settings import ServiceSettings

HEADER_TIMEOUT_S = 10  # the whole request line and headers must arrive within this
BODY_TIMEOUT_S = 10  # longest silence between two reads of the body
UPSTREAM_READ_TIMEOUT_S = 180  # as long as gunicorn lets the matting service work
# Statuses nginx answers itself, and the code and message each gets.
FRONT_ERRORS = {
    400: ("bad_request", "The request is malformed (its headers or chunked body)."),
    408: ("request_timeout", "The request did not arrive in time."),
    413: ("too_large", "The upload is larger than this service accepts."),
    414: ("uri_too_long", "The request line is too long."),
    494: ("headers_too_large", "The request's headers are too large."),
    502: ("service_unavailable", "The service behind the front is not answering."),
    504: ("service_timeout", "The service behind the front did not answer in time."),
}


def _shown(status: int) -> int:
    """The status a client gets for one nginx answers: 494 (headers too large) as 400."""
    return 400 if status == 494 else status


def _error_bodies(folder: Path) -> None:
    """One JSON file per status, and one per refused key's code, in the service's shape and in
    remove.bg's (``removebg/``)."""
    (folder / "removebg").mkdir(parents=True)
    named = {str(_shown(status)): error for status, error in FRONT_ERRORS.items()}
    named |= {code: (code, message) for code, message in KEY_ERRORS.items()}
    for name, (code, message) in named.items():
        (folder / f"{name}.json").write_text(
            json.dumps({"error": {"code": code, "message": message}}))
        (folder / "removebg" / f"{name}.json").write_text(
            json.dumps({"errors": [{"title": message, "code": code}]}))


def _error_pages(prefix: str, indent: str, check_keys: bool = False) -> str:
    lines = []
    for status in FRONT_ERRORS:
        shown = _shown(status)
        lines.append(f"{indent}error_page {status} ={shown} /_front_errors/{prefix}{shown}.json;")
    if check_keys:  # the key check's 403 names its code: the service's body for it; a check
        # that got no answer (the service down) is nginx's 500: as 502, the service's absence
        lines.append(f"{indent}error_page 403 =403 /_front_errors/{prefix}$key_error.json;")
        lines.append(f"{indent}error_page 500 =502 /_front_errors/{prefix}502.json;")
    return "\n".join(lines)


def _upstream_header(name: str) -> str:
    """nginx's variable for a header of the upstream's answer."""
    return "$upstream_http_" + name.lower().replace("-", "_")


def _key_check(check_keys: bool, indent: str) -> str:
    """The lines that make a location ask the service about the key first."""
    if not check_keys:
        return ""
    return (f"{indent}auth_request {KEY_CHECK_PATH};\n"
            f"{indent}auth_request_set $key_error {_upstream_header(KEY_ERROR_HEADER)};")


_KEY_CHECK_LOCATION = f"""location = {KEY_CHECK_PATH} {{
            internal;
            proxy_pass http://service;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header {ORIGINAL_METHOD} $request_method;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}"""


_PROXY = f"""proxy_pass http://service;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_request_buffering on;
            proxy_read_timeout {UPSTREAM_READ_TIMEOUT_S}s;"""


def nginx_config(listen: str, upstream: str, folder: Path, max_body_bytes: int,
                 check_keys: bool = False) -> str:
    """The nginx configuration: ``listen`` (host:port) in front of ``upstream`` (host:port),
    bodies up to ``max_body_bytes``, temporary files and error bodies under ``folder``; with
    ``check_keys``, each request's key checked by the service before its body is read."""
    headers = "\n".join(f'            add_header {name} "{value}" always;'
                        for name, value in SECURITY_HEADERS.items())
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log stderr crit;  # error lines quote the request line, which may hold a key
events {{ worker_connections 1024; }}
http {{
    access_log off;  # gunicorn logs each request once, with keys in URLs masked
    server_tokens off;
{temp}
    client_header_timeout {HEADER_TIMEOUT_S}s;
    client_body_timeout {BODY_TIMEOUT_S}s;
    send_timeout 60s;
    keepalive_timeout 5s;
    client_max_body_size {max_body_bytes};
    client_body_buffer_size 256k;
    large_client_header_buffers 4 8k;
    upstream service {{ server {upstream}; keepalive 8; }}
    server {{
        listen {listen};
{_error_pages("", "        ")}
        location / {{
            {_PROXY}
{_key_check(check_keys, "            ")}
{_error_pages("", "            ", check_keys)}
        }}
        location /v1.0/ {{
            {_PROXY}
{_key_check(check_keys, "            ")}
{_error_pages("removebg/", "            ", check_keys)}
        }}
        {_KEY_CHECK_LOCATION if check_keys else ""}
        location ^~ /_front_errors/ {{
            internal;
            alias {folder}/errors/;
            default_type application/json;
{headers}
        }}
    }}
}}
"""


def nginx_command(folder: Path) -> list[str]:
    """The command that runs nginx with the configuration written in ``folder``."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if nginx is None:
        raise RuntimeError("nginx is not installed; scripts/setup.sh installs it, or run: "
                           "sudo apt-get install nginx-light")
    return [nginx, "-e", "stderr", "-p", str(folder), "-c", str(folder / "nginx.conf")]


def prepare_front(listen: str, upstream: str, folder: Path,
                  settings: ServiceSettings | None = None) -> None:
    """Write the configuration and error bodies into ``folder`` (an empty one); ``ValueError``
    when the API keys configured cannot be read."""
    settings = settings or ServiceSettings.load()
    _error_bodies(folder / "errors")
    # Uploads: image, background, trimap and hint, as the matting service accepts them.
    max_body = 4 * settings.max_upload_bytes + 1024 * 1024
    # The keys as the service reads them: a blank API_KEYS means none, and an unreadable file
    # stops the command here, with the service's own message, before anything starts.
    check_keys = bool(load_keys(settings.api_keys, settings.api_keys_file))
    (folder / "nginx.conf").write_text(nginx_config(listen, upstream, folder, max_body,
                                                    check_keys))
    if os.geteuid() == 0:  # nginx's workers then run as nobody: let them use the folder
        import pwd

        nobody = pwd.getpwnam("nobody")
        for path in (folder, *folder.rglob("*")):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
