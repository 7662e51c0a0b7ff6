"""Matting quality on ../shared/data/portraits-dev, over HTTP through /matte.

Prints mean IoU of (alpha ≥ 0.5) and the boundary F-score (3 px) against the hand-labelled masks.
Starts both services with the embedded backends unless --server points at a running one.

    .venv/bin/python -m bench.matting_quality [--server URL] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import time

import numpy as np
import requests
from PIL import Image

from bench.data import boundary_f_score, iou, portraits
from testing.launcher import Service

FLOORS = {"mean_iou": 0.962, "boundary_f": 0.677}  # ../shared/data/README.md


def evaluate(server: str) -> dict[str, float | str]:
    """Send every portrait through ``server``'s /matte and score the alpha."""
    session = requests.Session()
    ious, scores, seconds = [], [], []
    headers: dict[str, str] = {}
    for _, image_path, truth in portraits():
        start = time.perf_counter()
        response = session.post(f"{server}/matte", files={"image": image_path.read_bytes()},
                                data={"output": "alpha"}, timeout=300)
        seconds.append(time.perf_counter() - start)
        response.raise_for_status()
        headers = response.headers
        alpha = np.asarray(Image.open(io.BytesIO(response.content)))
        predicted = alpha >= 128
        ious.append(iou(predicted, truth))
        scores.append(boundary_f_score(predicted, truth))
    return {"segmenter": headers.get("X-Segmenter", "?"), "matter": headers.get("X-Matter", "?"),
            "images": len(ious), "mean_iou": float(np.mean(ious)),
            "boundary_f": float(np.mean(scores)), "median_seconds": float(np.median(seconds))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="a running matting service (default: start both)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    services: list[Service] = []
    try:
        server = args.server
        if server is None:
            segmentation = Service("segmentation_api", {"SEGMENTER": "selfie"}).start()
            services.append(segmentation)
            matting = Service("matting_api", {"MATTER": "closed-form",
                                              "SEGMENTATION_URL": segmentation.url}).start()
            services.append(matting)
            server = matting.url
        result = evaluate(server)
    finally:
        for service in services:
            service.stop()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"backends: segmentation {result['segmenter']}, matting {result['matter']}; "
          f"{result['images']} images, median {result['median_seconds']:.2f} s per request")
    for key, label in (("mean_iou", "mean IoU (alpha ≥ 0.5)"), ("boundary_f", "boundary F (3 px)")):
        verdict = "meets" if result[key] >= FLOORS[key] else "BELOW"
        print(f"{label:24} {result[key]:.4f}   floor {FLOORS[key]:.3f}: {verdict}")


if __name__ == "__main__":
    main()
