"""One request's work: image → person probability → trimap."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from segmentation_api.segmenters import PersonSegmenter
from segmentation_api.trimap import make_trimap
from service_common.http import StageTimer
from service_common.params import TrimapParams

# The copy a segmenter sees has no side over this (MediaPipe aborts from 32767; both models work
# at a few hundred pixels anyway) ...
SEGMENT_MAX_SIDE = 4096
# ... and no side more than this many times the other (torchvision's detection transform rounds
# the short side of a thinner picture down to nothing).
SEGMENT_MAX_ASPECT = 8


@dataclass(frozen=True)
class TrimapResult:
    """``probability`` float32 H×W; ``trimap`` uint8 H×W (0/128/255); ``people`` found."""

    probability: np.ndarray
    trimap: np.ndarray
    people: int


@dataclass(frozen=True)
class SegmentationView:
    """The copy of an RGB uint8 H×W×3 image that a segmenter sees: scaled down to at most
    ``SEGMENT_MAX_SIDE`` a side, then padded (border replicated) to at most
    ``SEGMENT_MAX_ASPECT`` : 1. An image within both bounds is used as it is."""

    pixels: np.ndarray
    inner: tuple[slice, slice]  # where the (scaled) image lies inside ``pixels``
    height: int  # the input's size
    width: int

    @classmethod
    def of(cls, image_rgb: np.ndarray) -> SegmentationView:
        height, width = image_rgb.shape[:2]
        pixels = image_rgb
        scale = SEGMENT_MAX_SIDE / max(height, width)
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            pixels = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
        rows, cols = pixels.shape[:2]
        short = math.ceil(max(rows, cols) / SEGMENT_MAX_ASPECT)
        pad_rows, pad_cols = max(0, short - rows), max(0, short - cols)
        top, left = pad_rows // 2, pad_cols // 2
        if pad_rows or pad_cols:
            pixels = cv2.copyMakeBorder(pixels, top, pad_rows - top, left, pad_cols - left,
                                        cv2.BORDER_REPLICATE)
        return cls(pixels, (slice(top, top + rows), slice(left, left + cols)), height, width)

    def restore(self, probability: np.ndarray) -> np.ndarray:
        """A float32 map of the view's size → the input's size (crop the padding, rescale)."""
        inner = probability[self.inner]
        if inner.shape == (self.height, self.width):
            return inner
        return cv2.resize(np.ascontiguousarray(inner, np.float32), (self.width, self.height),
                          interpolation=cv2.INTER_LINEAR)


def segment_to_trimap(segmenter: PersonSegmenter, image_rgb: np.ndarray, params: TrimapParams,
                      timer: StageTimer) -> TrimapResult:
    """Run the segmenter on an RGB uint8 H×W×3 image (through its ``SegmentationView``) and turn
    its probabilities into a trimap at the image's size."""
    with timer.stage("segment"):
        view = SegmentationView.of(image_rgb)
        segmentation = segmenter.segment(view.pixels, score_threshold=params.score_threshold)
        probability = view.restore(segmentation.probability)
    with timer.stage("trimap"):
        trimap = make_trimap(probability, fg_threshold=params.fg_threshold,
                             bg_threshold=params.bg_threshold, kernel_size=params.kernel_size,
                             erode_iterations=params.erode_iterations,
                             dilate_iterations=params.dilate_iterations)
    return TrimapResult(probability, trimap, segmentation.people)
