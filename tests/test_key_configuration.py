"""One configuration for keys: ``API_KEYS`` alone on the production command is enough, the
segmentation service is never open where keys are on, readiness checks the key, and no key
reaches a log."""

from __future__ import annotations

import pytest
import requests

from background_replacement.service_common.front import prepare_front
from background_replacement.service_common.protocol import API_KEY_HEADER
from background_replacement.service_common.settings import ServiceSettings
from tests.conftest import PRODUCTION_KEY


def test_api_keys_alone_make_a_working_keyed_service(production_services, astronaut_png):
    url = production_services.url
    assert requests.get(url + "/readyz", timeout=10).status_code == 200
    keyed = requests.post(url + "/matte", files={"image": astronaut_png},
                          headers={API_KEY_HEADER: PRODUCTION_KEY}, timeout=60)
    assert keyed.status_code == 200, keyed.text[:300]
    large = astronaut_png + bytes(4 * 1024 * 1024)  # far more than gunicorn drains by itself
    for headers in ({}, {API_KEY_HEADER: "wrong"}):
        for upload in (astronaut_png, large):
            refused = requests.post(url + "/matte", files={"image": upload}, headers=headers,
                                    timeout=60)
            assert refused.status_code == 403  # the front passes the service's answer on


def test_the_segmentation_service_wants_its_own_key(production_services, astronaut_png):
    """Its key is made by the command and known only to the matting service: neither no key
    nor the public one opens it."""
    segmentation = f"http://127.0.0.1:{production_services.segmentation_port}"
    assert requests.get(segmentation + "/healthz", timeout=10).status_code == 200
    for path in ("/trimap", "/people", "/mask"):
        for headers in ({}, {API_KEY_HEADER: PRODUCTION_KEY}):
            answer = requests.post(segmentation + path, files={"image": astronaut_png},
                                   headers=headers, timeout=60)
            assert answer.status_code == 403, (path, headers)


def test_no_key_in_the_logs(production_services, astronaut_png):
    url = production_services.url
    requests.post(url + "/matte?api_key=" + PRODUCTION_KEY, files={"image": astronaut_png},
                  timeout=60)
    requests.get(url + "/healthz?x=1&api_key=" + PRODUCTION_KEY, timeout=10)
    requests.post(url + "/matte", files={"image": astronaut_png},
                  headers={API_KEY_HEADER: PRODUCTION_KEY}, timeout=60)
    log = production_services.log()
    assert "/matte" in log and "/trimap" in log  # both services log to it
    assert "api_key=***" in log
    assert PRODUCTION_KEY not in log


def test_the_front_checks_keys_exactly_when_the_service_has_some(tmp_path):
    """The front asks for a key check only where the service registers one: a blank
    ``API_KEYS`` is no key for either (the front's check would otherwise find no answerer and
    fail every request), and an unreadable key file stops the command before anything starts."""
    for keys, checked in ((" , ", False), ("", False), ("a-key", True)):
        folder = tmp_path / f"front-{checked}-{len(keys)}"
        folder.mkdir()
        prepare_front("127.0.0.1:1", "127.0.0.1:2", folder, ServiceSettings(api_keys=keys))
        assert ("auth_request" in (folder / "nginx.conf").read_text()) is checked, repr(keys)
    with pytest.raises(ValueError, match="API_KEYS_FILE"):
        prepare_front("127.0.0.1:1", "127.0.0.1:2", tmp_path,
                      ServiceSettings(api_keys_file=str(tmp_path / "missing")))
