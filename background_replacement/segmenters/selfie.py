"""MediaPipe selfie segmentation: the embedded default, its model inside the mediapipe wheel."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from background_replacement.segmenters import SEGMENTERS
from background_replacement.segmenters.base import PersonSegmentation, SegmenterUnavailable

# A region counts as a person when it covers at least this share of the picture.
MIN_PERSON_AREA = 0.002


def count_people(probability: np.ndarray, score_threshold: float) -> int:
    """Connected regions of probability ≥ 0.5, large enough, whose peak reaches the threshold."""
    mask = (probability >= 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = max(16, MIN_PERSON_AREA * probability.size)
    people = 0
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < min_area:
            continue
        if float(probability[labels == label].max()) >= score_threshold:
            people += 1
    return people


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

    name = SEGMENTERS.name_of(__name__)

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

    def segment(self, image_rgb: np.ndarray, *, score_threshold: float) -> PersonSegmentation:
        """Person probability (float32 H×W) and the number of person-sized regions."""
        mirror = np.ascontiguousarray(image_rgb[:, ::-1])
        maps = []
        for graph, lock in self._graphs:
            maps.append(self._probability(graph, lock, image_rgb))
            maps.append(self._probability(graph, lock, mirror)[:, ::-1])
        probability = mean_probability(maps)
        return PersonSegmentation(probability, count_people(probability, score_threshold))
