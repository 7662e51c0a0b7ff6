"""Person segmenters behind one interface, chosen by name (``SEGMENTER=auto|maskrcnn|selfie``)."""

from __future__ import annotations

import logging

from segmentation_api.segmenters.base import (
    PersonSegmentation,
    PersonSegmenter,
    SegmenterUnavailable,
)
from service_common.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["SEGMENTER_NAMES", "PersonSegmentation", "PersonSegmenter", "SegmenterUnavailable",
           "load_segmenter"]

SEGMENTER_NAMES = ("maskrcnn", "selfie")


def _load(name: str, settings: Settings) -> PersonSegmenter:
    if name == "maskrcnn":
        from segmentation_api.segmenters.maskrcnn import MaskRCNNSegmenter
        from service_common.device import select_device

        return MaskRCNNSegmenter.from_settings(settings, select_device(settings.device))
    if name == "selfie":
        from segmentation_api.segmenters.selfie import SelfieSegmenter

        return SelfieSegmenter.from_settings(settings)
    raise ValueError(f"unknown segmenter {name!r}")


def load_segmenter(settings: Settings) -> PersonSegmenter:
    """The segmenter the settings ask for. ``auto``: Mask R-CNN when its weights load, else the
    embedded selfie model, logging why. An explicit choice that cannot load raises
    ``SegmenterUnavailable`` with the fix in its message."""
    if settings.segmenter != "auto":
        segmenter = _load(settings.segmenter, settings)
    else:
        try:
            segmenter = _load("maskrcnn", settings)
        except SegmenterUnavailable as exc:
            log.warning("SEGMENTER=auto: Mask R-CNN unavailable (%s); using the embedded "
                        "MediaPipe selfie model", exc)
            segmenter = _load("selfie", settings)
    log.info("segmenter: %s", segmenter.name)
    return segmenter
