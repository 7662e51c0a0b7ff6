"""The pipeline's settings: defaults, then environment variables, then a mapping (a test's, or
the Python API caller's). The services' own settings (limits, keys, URLs) live at the HTTP edge
(``service_common.settings``) and load the same way.

The environment variable names are part of the project's interface (README lists them).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from background_replacement.backends import (
    AUTO,
    CLOSED_FORM_MAX_UNKNOWN,
    FBA_MAX_PIXELS,
    MASKRCNN_MAX_SIZE,
    MASKRCNN_MIN_SIZE,
    MASKRCNN_PROPOSALS,
    MATTER_BACKENDS,
    SEGMENTER_BACKENDS,
)
from background_replacement.background import BACKGROUNDS_DIR

Loaded = TypeVar("Loaded")


@dataclass(frozen=True)
class Settings:
    """Everything the pipeline reads from the environment, once, at start-up."""

    segmenter: str = "auto"  # auto, or a name from backends.SEGMENTER_BACKENDS
    matter: str = "auto"  # auto, or a name from backends.MATTER_BACKENDS
    maskrcnn_weights: str = ""  # empty: models/ then the torch hub cache
    fba_weights: str = ""  # empty: models/FBA.pth
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto | float32 | bfloat16 | float16 (FBA under autocast)
    threads: int = 0  # CPU threads for torch, OpenCV, BLAS and numba; 0: every core available
    maskrcnn_min_size: int = MASKRCNN_MIN_SIZE  # shorter side the detector sees
    maskrcnn_max_size: int = MASKRCNN_MAX_SIZE
    maskrcnn_proposals: int = MASKRCNN_PROPOSALS  # region proposals the box head scores
    closed_form_max_unknown: int = CLOSED_FORM_MAX_UNKNOWN  # above: alpha is solved smaller
    fba_max_pixels: int = FBA_MAX_PIXELS  # above this, FBA runs smaller (0: always full size)
    backgrounds_dir: str = str(BACKGROUNDS_DIR)  # the named backgrounds; default: shipped ones

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None,
             environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults, then ``environ`` (upper-case names), then ``overrides`` (field names)."""
        return load_fields(cls, overrides, environ)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the variable whose value cannot work."""
        choices = {"segmenter": (AUTO, *SEGMENTER_BACKENDS), "matter": (AUTO, *MATTER_BACKENDS),
                   "device": ("auto", "cpu", "cuda"),
                   "precision": ("auto", "float32", "bfloat16", "float16")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name.upper()}={getattr(self, name)!r}; use one of "
                                 + ", ".join(allowed))
        check_signs(self, at_least_zero=("threads", "fba_max_pixels"),
                    positive=("maskrcnn_min_size", "maskrcnn_max_size", "maskrcnn_proposals",
                              "closed_form_max_unknown"))


def load_fields(cls: type[Loaded], overrides: Mapping[str, Any] | None,
                environ: Mapping[str, str] | None) -> Loaded:
    """A settings dataclass ``cls`` (with a ``validate`` method): its defaults, then
    ``environ`` (``os.environ`` when None; a field's upper-case name, empty means unset), then
    ``overrides`` (field names), validated."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in fields(cls):  # type: ignore[arg-type]
        raw = environ.get(field.name.upper())
        if raw is not None and raw != "":
            values[field.name] = _parse(field.name, raw, type(field.default))
    settings = dataclasses.replace(cls(), **values)  # type: ignore[type-var]
    if overrides:
        settings = dataclasses.replace(settings, **dict(overrides))
    settings.validate()  # type: ignore[attr-defined]
    return settings


def check_signs(settings: object, at_least_zero: tuple[str, ...] = (),
                positive: tuple[str, ...] = ()) -> None:
    """Raise ``ValueError`` naming the first field of ``settings`` below its lower bound."""
    for name in at_least_zero:
        if getattr(settings, name) < 0:
            raise ValueError(f"{name.upper()} must be 0 or more")
    for name in positive:
        if getattr(settings, name) <= 0:
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
