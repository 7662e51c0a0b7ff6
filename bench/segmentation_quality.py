"""Segmentation quality on ../shared/data/portraits-dev, for each backend that can load.

Prints mean IoU of (probability ≥ 0.5) against the hand-labelled masks, and the share of true
person pixels that the default trimap marks background (averaged over the images).

    .venv/bin/python -m bench.segmentation_quality [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from background_replacement.segmenters import SEGMENTERS, SegmenterUnavailable, load_segmenter
from background_replacement.service_common.uploads import decode_image
from background_replacement.settings import Settings
from background_replacement.trimap import BACKGROUND, make_trimap
from bench.data import iou, portraits


def evaluate(name: str) -> dict[str, float] | None:
    """Scores of one backend, or None when it cannot load here."""
    try:
        segmenter = load_segmenter(Settings.load({"segmenter": name}))
    except SegmenterUnavailable as exc:
        print(f"{name}: skipped ({exc})")
        return None
    ious, lost, seconds = [], [], []
    for _, image_path, truth in portraits():
        image = decode_image(image_path.read_bytes(), max_bytes=1 << 30, max_pixels=1 << 30)
        start = time.perf_counter()
        probability = segmenter.segment(image.rgb, score_threshold=0.6).probability
        seconds.append(time.perf_counter() - start)
        trimap = make_trimap(probability)
        ious.append(iou(probability >= 0.5, truth))
        lost.append(np.count_nonzero(truth & (trimap == BACKGROUND)) / np.count_nonzero(truth))
    return {"images": len(ious), "mean_iou": float(np.mean(ious)),
            "person_marked_background": float(np.mean(lost)),
            "median_seconds": float(np.median(seconds))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    results = {name: r for name in SEGMENTERS.names if (r := evaluate(name)) is not None}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'backend':10} {'images':>6} {'mean IoU':>9} {'person→bg':>10} {'median s':>9}")
    for name, r in results.items():
        print(f"{name:10} {r['images']:6d} {r['mean_iou']:9.2%} "
              f"{r['person_marked_background']:10.3%} {r['median_seconds']:9.3f}")


if __name__ == "__main__":
    main()
