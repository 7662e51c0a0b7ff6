"""Whole photos over HTTP at one size: the evaluation photos, each scaled to cover the size and
sent as a JPEG to ``/matte`` of both services under gunicorn (the default embedded backends,
or ``--segmenter``), median and 90th percentile of the end-to-end seconds per set and over all;
beside them, from the same run, the matrix product's rate and the straightforward pipeline
(bench.matting_quality's reference) on the same photos, in process.

    .venv/bin/python -m bench.photo_speed [--size 1280x720] [--sets dev,fullbody,davis]
        [--limit 20] [--reference-every 4] [--segmenter pose]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import requests
from PIL import Image

from background_replacement.compositing import cover
from background_replacement.service_common.uploads import encode_image
from bench.data import portraits
from bench.machine import instruction_sets
from bench.matting_quality import SETS, straightforward_pipeline
from bench.pipeline import SERVER, STRAIGHTFORWARD_TARGET, matmul_rate
from testing.launcher import Service

# Issue 24: the whole 1280×720 photo over HTTP, median over the dev photos, at most this long.
MEDIAN_TARGET = 0.6


def photos(set_name: str, limit: int, size: tuple[int, int]) -> list[tuple[bytes, np.ndarray]]:
    """Up to ``limit`` photos of a set, spread over it, as JPEG bytes and RGB at ``size``."""
    paths = [path for _, path, _ in portraits(SETS[set_name])]
    chosen = paths[::max(1, len(paths) // limit)][:limit]
    width, height = size
    result = []
    for path in chosen:
        with Image.open(path) as image:
            pixels = cover(np.asarray(image.convert("RGB")), height, width)
        result.append((encode_image(pixels, "jpeg", quality=95), pixels))
    return result


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share * 100))


def over_http(sets: dict[str, list[tuple[bytes, np.ndarray]]],
              segmenter: str | None) -> dict[str, list[float]]:
    """Seconds of each photo's ``/matte`` (after one warm-up request), per set."""
    env = {"SEGMENTER": segmenter} if segmenter else {}
    segmentation = Service("segmentation_api", env, server=SERVER).start()
    matting = Service("matting_api", {"MATTER": "closed-form",
                                      "SEGMENTATION_URL": segmentation.url},
                      server=SERVER).start()
    session, seconds = requests.Session(), {}
    try:
        first = next(iter(sets.values()))[0][0]
        session.post(matting.url + "/matte", files={"image": first}, timeout=600)
        for name, items in sets.items():
            seconds[name] = []
            for jpeg, _ in items:
                start = time.perf_counter()
                answer = session.post(matting.url + "/matte", files={"image": jpeg},
                                      data={"if_no_person": "empty"}, timeout=600)
                seconds[name].append(time.perf_counter() - start)
                answer.raise_for_status()
        seconds["segmenter"] = answer.headers["X-Segmenter"]
    finally:
        matting.stop()
        segmentation.stop()
    return seconds


def straightforward(sets: dict[str, list[tuple[bytes, np.ndarray]]], every: int) -> list[float]:
    """Seconds of the straightforward pipeline on every ``every``-th photo of each set."""
    run = straightforward_pipeline()
    first = next(iter(sets.values()))[0][1]
    run(b"", cover(first, 240, 320))  # numba compiles here, not in a timed run
    seconds = []
    for items in sets.values():
        for jpeg, pixels in items[::every]:
            start = time.perf_counter()
            run(jpeg, pixels)
            seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--sets", default="dev,fullbody,davis")
    parser.add_argument("--limit", type=int, default=20, help="photos per set")
    parser.add_argument("--reference-every", type=int, default=4,
                        help="the straightforward pipeline on every N-th photo of each set")
    parser.add_argument("--segmenter", default=None, help="SEGMENTER for the service")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    sets = {name: photos(name, args.limit, size) for name in args.sets.split(",")}
    import torch

    before = matmul_rate(torch.float32)
    seconds = over_http(sets, args.segmenter)
    reference = straightforward(sets, args.reference_every)
    after = matmul_rate(torch.float32)
    print(f"machine: {', '.join(instruction_sets())}; matrix product {before:.0f} GFLOP/s "
          f"float32 before the run, {after:.0f} after")
    print(f"/matte at {args.size} over HTTP ({seconds.pop('segmenter')} + closed-form, "
          f"{SERVER}), seconds:")
    every = []
    for name, values in seconds.items():
        every += values
        print(f"  {name:10} {len(values):3d} photos  median {statistics.median(values):.3f}"
              f"  90th percentile {percentile(values, 0.9):.3f}")
    median = statistics.median(every)
    print(f"  {'all':10} {len(every):3d} photos  median {median:.3f}  90th percentile "
          f"{percentile(every, 0.9):.3f}  (target: median ≤ {MEDIAN_TARGET:g} s)")
    speed_up = statistics.median(reference) / median
    print(f"straightforward pipeline in process, {len(reference)} of the same photos: median "
          f"{statistics.median(reference):.3f} s; the project is {speed_up:.1f}× faster "
          f"(target ≥ {STRAIGHTFORWARD_TARGET:g}×)")


if __name__ == "__main__":
    main()
