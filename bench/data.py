"""The evaluation data beside the project (../shared/data) and the scores used on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
PORTRAITS = DATA / "portraits-dev"
# Beyond this many pixels from a mask's edge a pixel is surely inside or surely outside.
HAZE_MARGIN = 10
HAZE_OUTSIDE = 25 / 255  # alpha above this, surely outside the person: background haze
HAZE_INSIDE = 230 / 255  # alpha below this, surely inside: the person partly see-through


def portraits(folder: Path = PORTRAITS) -> Iterator[tuple[str, Path, np.ndarray]]:
    """(id, image path, boolean person mask H×W) for every photo with a mask: ``images/*.jpg``
    beside ``masks/*.png``, in ``folder`` or in its subfolders (davis-people's sequences), in
    path order; the id is the photo's path under ``folder`` without ``images/`` and suffix."""
    if not folder.is_dir():
        raise SystemExit(f"{folder} is missing: the evaluation data lives beside the project")
    for image_path in sorted(folder.glob("**/images/*.jpg")):
        place = image_path.parent.parent
        mask = np.asarray(Image.open(place / "masks" / f"{image_path.stem}.png").convert("L"))
        yield (place / image_path.stem).relative_to(folder).as_posix(), image_path, mask > 127


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


def sure_regions(truth: np.ndarray, margin: int = HAZE_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the pixels more than ``margin`` pixels outside and inside ``truth``."""
    person = truth.astype(np.uint8)
    outside = cv2.distanceTransform(1 - person, cv2.DIST_L2, 5) > margin
    inside = cv2.distanceTransform(person, cv2.DIST_L2, 5) > margin
    return outside, inside


def alpha_scores(alpha: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """IoU and boundary F of ``alpha ≥ 0.5`` against a binary mask, the share of the mask's
    pixels it finds (``found``: recall), and the haze counts: pixels
    surely outside with alpha above ``HAZE_OUTSIDE``, surely inside with alpha below
    ``HAZE_INSIDE``, and how many pixels each region has (haze shares pool these counts)."""
    predicted = alpha >= 0.5
    outside, inside = sure_regions(truth)
    people = np.count_nonzero(truth)
    found = 1.0 if people == 0 else np.count_nonzero(predicted & truth) / people
    return {"iou": iou(predicted, truth), "boundary_f": boundary_f_score(predicted, truth),
            "found": found,
            "outside_hazy": int(np.count_nonzero(outside & (alpha > HAZE_OUTSIDE))),
            "outside": int(np.count_nonzero(outside)),
            "inside_hazy": int(np.count_nonzero(inside & (alpha < HAZE_INSIDE))),
            "inside": int(np.count_nonzero(inside))}


def summary(scores: list[dict[str, float]]) -> dict[str, float]:
    """Mean IoU, boundary F and person pixels found over images; haze as the share of all sure
    pixels of the set."""
    total = {key: sum(s[key] for s in scores) for key in scores[0]}
    return {"images": len(scores), "mean_iou": total["iou"] / len(scores),
            "boundary_f": total["boundary_f"] / len(scores),
            "person_found": total["found"] / len(scores),
            "exterior_haze": total["outside_hazy"] / max(1, total["outside"]),
            "interior_haze": total["inside_hazy"] / max(1, total["inside"])}


def instance_scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, int]:
    """How many true people (labels > 0 of ``truth``, one per person) exactly one predicted
    person (labels > 0 of ``predicted``, an index mask such as ``People.index_mask``) matches
    with IoU ≥ 0.5, and how many predicted people match nobody. The true people are disjoint,
    so one predicted person matches at most one of them (two only at IoU exactly 0.5 each)."""
    true_count, found_count = int(truth.max(initial=0)), int(predicted.max(initial=0))
    pairs = truth.astype(np.int64).ravel() * (found_count + 1) + predicted.ravel()
    joint = np.bincount(pairs, minlength=(true_count + 1) * (found_count + 1)).reshape(
        true_count + 1, found_count + 1)
    true_area, found_area = joint.sum(axis=1)[1:, None], joint.sum(axis=0)[None, 1:]
    overlap = joint[1:, 1:]
    union = true_area + found_area - overlap
    matches = overlap >= 0.5 * np.maximum(union, 1)
    matches &= (true_area > 0) & (found_area > 0)
    return {"people": int(np.count_nonzero(true_area)),
            "matched": int(np.count_nonzero(matches.sum(axis=1) == 1)),
            "unmatched_found": int(np.count_nonzero((found_area[0] > 0)
                                                    & ~matches.any(axis=0)))}
