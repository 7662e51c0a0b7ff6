"""Settings of the pipeline and both services: defaults, then environment variables, then a
mapping (a test's, or the Python API caller's).

The environment variable names are part of the project's interface (README lists them).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from background_replacement.backends import AUTO, MATTER_BACKENDS, SEGMENTER_BACKENDS
from background_replacement.background import BACKGROUNDS_DIR

API_KEY_HEADER = "X-Api-Key"  # the header that carries a key, for the services and clients


@dataclass(frozen=True)
class Settings:
    """Everything the pipeline and the services read from the environment, once, at start-up."""

    segmentation_url: str = "http://127.0.0.1:3000"
    segmenter: str = "auto"  # auto, or a name from SEGMENTERS
    matter: str = "auto"  # auto, or a name from MATTERS
    maskrcnn_weights: str = ""  # empty: models/ then the torch hub cache
    fba_weights: str = ""  # empty: models/FBA.pth
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto | float32 | bfloat16 | float16 (FBA under autocast)
    threads: int = 0  # CPU threads for torch, OpenCV, BLAS and numba; 0: every core available
    maskrcnn_min_size: int = 320  # shorter side the detector sees (its masks are 28×28)
    maskrcnn_max_size: int = 576
    maskrcnn_proposals: int = 300  # region proposals the box head scores (torchvision: 1000)
    closed_form_max_unknown: int = 40_000  # above this, closed-form alpha is solved smaller
    fba_max_pixels: int = 250_000  # above this, FBA runs smaller (0: always at full size)
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
    backgrounds_dir: str = str(BACKGROUNDS_DIR)  # the named backgrounds; default: shipped ones
    # API keys (service_common.api_keys): comma-separated, empty means none is needed; a file
    # with one key a line adds to them; the key the matting service sends to segmentation.
    api_keys: str = dataclasses.field(default="", repr=False)
    api_keys_file: str = ""
    segmentation_api_key: str = dataclasses.field(default="", repr=False)

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None,
             environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults, then ``environ`` (upper-case names), then ``overrides`` (field names)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = environ.get(field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _parse(field.name, raw, type(field.default))
        settings = dataclasses.replace(cls(), **values)
        if overrides:
            settings = dataclasses.replace(settings, **dict(overrides))
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ``ValueError`` naming the variable whose value cannot work."""
        choices = {"segmenter": (AUTO, *SEGMENTER_BACKENDS), "matter": (AUTO, *MATTER_BACKENDS),
                   "device": ("auto", "cpu", "cuda"),
                   "precision": ("auto", "float32", "bfloat16", "float16")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name.upper()}={getattr(self, name)!r}; use one of "
                                 + ", ".join(allowed))
        for name in ("threads", "fba_max_pixels"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.upper()} must be 0 or more")
        for name in ("max_upload_bytes", "max_image_pixels", "maskrcnn_min_size",
                     "maskrcnn_max_size", "maskrcnn_proposals", "closed_form_max_unknown",
                     "max_in_flight", "max_pixels_in_flight", "retry_after"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name.upper()} must be positive")


def _parse(name: str, raw: str, kind: type) -> Any:
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        raise ValueError(f"{name.upper()}={raw!r} is not a {kind.__name__}") from None
    return raw
