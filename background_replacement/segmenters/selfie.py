"""MediaPipe selfie segmentation: the embedded default, its model inside the mediapipe wheel."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from background_replacement.people import MASK_THRESHOLD, People
from background_replacement.segmenters.base import SegmenterUnavailable

# A region counts as a person when it covers at least this share of the picture.
MIN_PERSON_AREA = 0.002


def person_regions(probability: np.ndarray,
                   score_threshold: float) -> tuple[np.ndarray, list[float]]:
    """The people of a person map: its connected regions of probability ≥ ``MASK_THRESHOLD``,
    large enough, whose peak reaches the threshold. Returns int32 H×W labels (0 nobody, i + 1
    person i) and each person's peak probability as their score."""
    mask = (probability >= MASK_THRESHOLD).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = max(16, MIN_PERSON_AREA * probability.size)
    people = np.zeros(probability.shape, np.int32)
    scores = []
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < min_area:
            continue
        region = labels == label
        peak = float(probability[region].max())
        if peak >= score_threshold:
            scores.append(peak)
            people[region] = len(scores)
    return people, scores


def nearest_region(regions: np.ndarray) -> np.ndarray:
    """int32 H×W: the label of the region (``person_regions``'s labels) nearest to each pixel,
    so that a person's soft edge, below the mask threshold, stays theirs."""
    outside = (regions == 0).astype(np.uint8)
    _, nearest = cv2.distanceTransformWithLabels(outside, cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    # DIST_LABEL_PIXEL numbers the zero pixels (the regions') in scan order, from 1.
    return regions[regions > 0][nearest - 1] if regions.any() else regions


def split_regions(probability: np.ndarray, regions: np.ndarray, count: int) -> np.ndarray:
    """Each person's own map (float32 people×H×W): the probability where their region
    (``person_regions``'s labels) is the nearest one, 0 elsewhere."""
    if count == 0:
        return np.zeros((0, *probability.shape), np.float32)
    nearest = nearest_region(regions)
    return np.stack([np.where(nearest == index + 1, probability, 0.0)
                     for index in range(count)]).astype(np.float32)


def mean_probability(maps: list[np.ndarray]) -> np.ndarray:
    """The pixelwise mean of several probability maps of one image, clipped to [0, 1]."""
    return np.clip(np.mean(maps, axis=0, dtype=np.float32), 0.0, 1.0)


class SelfieSegmenter:
    """MediaPipe's legacy ``solutions.selfie_segmentation`` graphs, built once, each used under
    its lock (a graph keeps state between calls and is not thread-safe).

    Both models of the wheel run by default, the general one (256×256 input) and the landscape
    one (144×256), each on the image and on its mirror image (test-time flip); the probability
    is the mean of the four answers. On portraits-tune (300) the two models together lift
    (probability ≥ 0.5) from 96.15 % to 96.31 % mean IoU over the general model alone, for a
    few milliseconds more (bench/matting_quality.py has the whole chain's figures).
    """

    name = "selfie"  # its key in background_replacement.backends

    def __init__(self, model_selections: tuple[int, ...] = (0, 1)):
        try:
            from mediapipe.python.solutions.selfie_segmentation import SelfieSegmentation
        except ImportError as exc:
            raise SegmenterUnavailable(f"mediapipe is not installed: {exc}") from exc
        self._graphs = [(SelfieSegmentation(model_selection=m), threading.Lock())
                        for m in model_selections]

    @classmethod
    def from_settings(cls, settings) -> SelfieSegmenter:
        """Both selfie models; MediaPipe chooses its own CPU threads."""
        return cls()

    @staticmethod
    def _probability(graph, lock: threading.Lock, image_rgb: np.ndarray) -> np.ndarray:
        with lock:
            mask = graph.process(image_rgb).segmentation_mask
        return np.asarray(mask, np.float32)

    def segment(self, image_rgb: np.ndarray, *, score_threshold: float) -> People:
        """Person probability (float32 H×W) and its person-sized regions, one mask each."""
        mirror = np.ascontiguousarray(image_rgb[:, ::-1])
        maps = []
        for graph, lock in self._graphs:
            maps.append(self._probability(graph, lock, image_rgb))
            maps.append(self._probability(graph, lock, mirror)[:, ::-1])
        probability = mean_probability(maps)
        regions, scores = person_regions(probability, score_threshold)
        return People(probability, tuple(scores),
                      lambda: split_regions(probability, regions, len(scores)))
