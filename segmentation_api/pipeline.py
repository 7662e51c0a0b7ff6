"""One request's work: image → person probability → trimap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segmentation_api.segmenters import PersonSegmenter
from segmentation_api.trimap import make_trimap
from service_common.http import StageTimer
from service_common.params import TrimapParams


@dataclass(frozen=True)
class TrimapResult:
    """``probability`` float32 H×W; ``trimap`` uint8 H×W (0/128/255); ``people`` found."""

    probability: np.ndarray
    trimap: np.ndarray
    people: int


def segment_to_trimap(segmenter: PersonSegmenter, image_rgb: np.ndarray, params: TrimapParams,
                      timer: StageTimer) -> TrimapResult:
    """Run the segmenter on an RGB uint8 H×W×3 image and turn its probabilities into a trimap."""
    with timer.stage("segment"):
        segmentation = segmenter.segment(image_rgb, score_threshold=params.score_threshold)
    with timer.stage("trimap"):
        trimap = make_trimap(segmentation.probability, fg_threshold=params.fg_threshold,
                             bg_threshold=params.bg_threshold, kernel_size=params.kernel_size,
                             erode_iterations=params.erode_iterations,
                             dilate_iterations=params.dilate_iterations)
    return TrimapResult(segmentation.probability, trimap, segmentation.people)
