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
or remove.bg's under ``/v1.0/``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

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


def _error_bodies(folder: Path) -> None:
    """One JSON file per status in the service's shape and in remove.bg's (``removebg/``)."""
    (folder / "removebg").mkdir(parents=True)
    for status, (code, message) in FRONT_ERRORS.items():
        shown = 400 if status == 494 else status
        (folder / f"{shown}.json").write_text(
            json.dumps({"error": {"code": code, "message": message}}))
        (folder / "removebg" / f"{shown}.json").write_text(
            json.dumps({"errors": [{"title": message, "code": code}]}))


def _error_pages(prefix: str, indent: str) -> str:
    lines = []
    for status in FRONT_ERRORS:
        shown = 400 if status == 494 else status
        lines.append(f"{indent}error_page {status} ={shown} /_front_errors/{prefix}{shown}.json;")
    return "\n".join(lines)


_PROXY = f"""proxy_pass http://service;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_request_buffering on;
            proxy_read_timeout {UPSTREAM_READ_TIMEOUT_S}s;"""


def nginx_config(listen: str, upstream: str, folder: Path, max_body_bytes: int) -> str:
    """The nginx configuration: ``listen`` (host:port) in front of ``upstream`` (host:port),
    bodies up to ``max_body_bytes``, temporary files and error bodies under ``folder``."""
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
        }}
        location /v1.0/ {{
            {_PROXY}
{_error_pages("removebg/", "            ")}
        }}
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
    """Write the configuration and error bodies into ``folder`` (an empty one)."""
    settings = settings or ServiceSettings.load()
    _error_bodies(folder / "errors")
    # Uploads: image, background, trimap and hint, as the matting service accepts them.
    max_body = 4 * settings.max_upload_bytes + 1024 * 1024
    (folder / "nginx.conf").write_text(nginx_config(listen, upstream, folder, max_body))
    if os.geteuid() == 0:  # nginx's workers then run as nobody: let them use the folder
        import pwd

        nobody = pwd.getpwnam("nobody")
        for path in (folder, *folder.rglob("*")):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
