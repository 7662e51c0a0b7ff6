"""Person segmenters behind one interface, chosen by name
(``SEGMENTER=auto|maskrcnn|pose|selfie``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from background_replacement.backends import SEGMENTER_BACKENDS
from background_replacement.registry import Registry
from background_replacement.segmenters.base import PersonSegmenter, SegmenterUnavailable

if TYPE_CHECKING:
    from background_replacement.settings import Settings

__all__ = ["SEGMENTERS", "PersonSegmenter", "SegmenterUnavailable",
           "load_segmenter"]

def _maskrcnn_missing(settings: Settings) -> str | None:
    """Why Mask R-CNN cannot load, known without importing PyTorch (see ``Registry``)."""
    from background_replacement.models import MASKRCNN_COCO, candidate_paths, design_missing

    return design_missing(MASKRCNN_COCO, candidate_paths(MASKRCNN_COCO, settings.maskrcnn_weights),
                          "Mask R-CNN")


# The one list of segmenter backends, in the order SEGMENTER=auto tries them.
SEGMENTERS = Registry("segmenter", SEGMENTER_BACKENDS, SegmenterUnavailable,
                      prechecks={"maskrcnn": _maskrcnn_missing})


def load_segmenter(settings: Settings) -> PersonSegmenter:
    """The segmenter ``settings.segmenter`` asks for. ``auto``: Mask R-CNN when its weights load,
    else the embedded pose model (people anywhere), else the selfie model, logging why. An
    explicit choice that cannot load raises ``SegmenterUnavailable`` with the fix in its
    message."""
    return SEGMENTERS.load(settings.segmenter, settings)
