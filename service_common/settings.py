"""The services' own settings: where the segmentation service is, what a request may send, how
many are worked on at once, and the API keys. Loaded like the pipeline's ``Settings`` (defaults,
then environment variables, then a mapping); the environment variable names are part of the
interface (README lists them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from background_replacement.service_common.protocol import SEGMENTATION_PORT
from background_replacement.settings import Settings, check_signs, load_fields


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the HTTP edge reads from the environment, once, at start-up."""

    segmentation_url: str = f"http://127.0.0.1:{SEGMENTATION_PORT}"
    max_upload_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_in_flight: int = 4  # POSTs worked on at once per process; more get 503 + Retry-After
    # Pixels of all images (photo, background, trimap, hint) worked on at once per process: its
    # peak memory grows with them (README, "Speed and memory"). A request may use all of it.
    max_pixels_in_flight: int = 12_000_000
    retry_after: int = 2  # seconds, in that 503's Retry-After
    queue_timeout: float = 5.0  # seconds a POST may wait for a free slot before that 503
    segmentation_connect_timeout: float = 3.0
    segmentation_read_timeout: float = 60.0
    # API keys (service_common.api_keys): comma-separated, empty means none is needed; a file
    # with one key a line adds to them; the key the matting service sends to segmentation.
    api_keys: str = dataclasses.field(default="", repr=False)
    api_keys_file: str = ""
    segmentation_api_key: str = dataclasses.field(default="", repr=False)

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None,
             environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Defaults, then ``environ`` (upper-case names), then ``overrides`` (field names)."""
        return load_fields(cls, overrides, environ)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the variable whose value cannot work."""
        check_signs(self, positive=("max_upload_bytes", "max_image_pixels", "max_in_flight",
                                    "max_pixels_in_flight", "retry_after"))


def load_service_settings(overrides: Mapping[str, Any] | None = None,
                          environ: Mapping[str, str] | None = None,
                          ) -> tuple[Settings, ServiceSettings]:
    """The pipeline's and the service's settings, ``overrides`` split between them by field
    name (``TypeError`` for a name neither has)."""
    overrides = dict(overrides or {})
    own = {field.name for field in fields(ServiceSettings)}
    pipeline = {name: value for name, value in overrides.items() if name not in own}
    service = {name: value for name, value in overrides.items() if name in own}
    return Settings.load(pipeline, environ), ServiceSettings.load(service, environ)
