"""Production serving settings shared by both services' gunicorn config files.

Each worker process builds the app itself (no preload), so every worker loads its models once,
after the fork. Threads are twice MAX_IN_FLIGHT: the extra ones only answer 503 + Retry-After
(and health checks) at once while the others work, instead of letting requests queue.
"""

from __future__ import annotations

import os

from background_replacement.service_common.settings import ServiceSettings


def gunicorn_settings(default_port: int, timeout: int) -> dict[str, object]:
    """gunicorn settings from the environment: ``BIND``, ``WORKERS``, and the services' own
    settings (``MAX_IN_FLIGHT``, read and checked the way the services read it)."""
    in_flight = ServiceSettings.load().max_in_flight
    return {
        "bind": os.environ.get("BIND", f"127.0.0.1:{default_port}"),
        "workers": int(os.environ.get("WORKERS", "1")),
        "worker_class": "gthread",
        "threads": 2 * in_flight,
        "preload_app": False,
        "timeout": timeout,  # a worker silent this long is restarted
        "graceful_timeout": 30,  # on SIGTERM, requests in progress get this long to finish
        "keepalive": 5,
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "accesslog": "-",
        # no key of a URL in the access log
        "logger_class": "background_replacement.service_common.access_log.MaskingLogger",
        "errorlog": "-",
        "loglevel": "info",
        # gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
        # so the two services on one machine would take it from each other; neither uses it.
        "control_socket_disable": True,
    }
