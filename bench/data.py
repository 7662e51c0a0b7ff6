"""The evaluation data beside the project (../shared/data) and the scores used on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PORTRAITS = ROOT.parent / "shared" / "data" / "portraits-dev"


def portraits(folder: Path = PORTRAITS) -> Iterator[tuple[str, Path, np.ndarray]]:
    """(id, image path, boolean person mask H×W) for every portrait with a mask."""
    if not folder.is_dir():
        raise SystemExit(f"{folder} is missing: the evaluation data lives beside the project")
    for image_path in sorted((folder / "images").glob("*.jpg")):
        mask = np.asarray(Image.open(folder / "masks" / f"{image_path.stem}.png").convert("L"))
        yield image_path.stem, image_path, mask > 127


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.count_nonzero(predicted | truth)
    return 1.0 if union == 0 else np.count_nonzero(predicted & truth) / union


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels within one pixel of the mask's edge, on either side (dilation minus erosion)."""
    mask = mask.astype(np.uint8)
    square = np.ones((3, 3), np.uint8)
    return (cv2.dilate(mask, square) - cv2.erode(mask, square,
                                                  borderType=cv2.BORDER_REPLICATE)) > 0


def boundary_f_score(predicted: np.ndarray, truth: np.ndarray, tolerance: int = 3) -> float:
    """F-score of boundary pixels matched within a disc of radius ``tolerance`` pixels.

    With this boundary definition, MediaPipe's selfie probability ≥ 0.5 scores 0.646 on
    portraits-dev, the reference figure in ../shared/data/README.md.
    """
    edge_p, edge_t = _boundary(predicted), _boundary(truth)
    if not edge_p.any() and not edge_t.any():
        return 1.0
    if not edge_p.any() or not edge_t.any():
        return 0.0
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
    near_t = cv2.dilate(edge_t.astype(np.uint8), disc) > 0
    near_p = cv2.dilate(edge_p.astype(np.uint8), disc) > 0
    precision = np.count_nonzero(edge_p & near_t) / np.count_nonzero(edge_p)
    recall = np.count_nonzero(edge_t & near_p) / np.count_nonzero(edge_t)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
