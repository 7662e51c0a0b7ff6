"""Which "solve small, bring back" rule comes closer to solving at full size?

On frames of ../shared/data/videos and photos of portraits-dev: the selfie segmenter's trimap
at full size; closed-form alpha solved on the box around its unknown band at full size (the
reference), and on that box shrunk to ``--scales`` of its sides, brought back by

- ``grey``: ``background_replacement.scaling.upsample`` (the production rule: grey guide,
  radius one solved pixel, colours as the picture plus the matter's correction), and
- ``rgb``: the rule the matters used before it (written out here: RGB guide, radius two solved
  pixels, colours upsampled bilinearly).

Prints, per set and scale, mean |Δα| over the picture and over the unknown band, mean |ΔF|
(colours, where the reference's alpha is over 0.05) and the milliseconds of bringing back.

    .venv/bin/python -m bench.scaling [--frames 3] [--photos 6] [--scales 0.5,0.35]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from itertools import islice

import cv2
import numpy as np
from PIL import Image

from background_replacement.matters.base import Matte, region
from background_replacement.matters.closed_form import CONTEXT_MARGIN, ClosedFormMatter
from background_replacement.pipeline import segment_to_trimap
from background_replacement.scaling import scaled_size, shrink, upsample
from background_replacement.segmenters.selfie import SelfieSegmenter
from background_replacement.trimap import enforce_known, unknown_mask
from background_replacement.video.media import read_frames
from bench.data import DATA, PORTRAITS, portraits

CLIPS = ("asl_thanks.mkv", "asl_walk.mkv", "asl_hungry.mkv")
Rule = Callable[[Matte, np.ndarray, np.ndarray], Matte]


def rgb_rule(small: Matte, small_rgb: np.ndarray, image_rgb: np.ndarray) -> Matte:
    """The matters' rule before ``scaling``: bilinear alpha through a guided filter with the
    full-size RGB picture as guide, radius two solved pixels; colours bilinear."""
    height, width = image_rgb.shape[:2]
    scale = small.alpha.shape[1] / width
    alpha = cv2.resize(small.alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    guide = image_rgb.astype(np.float32) / 255.0
    alpha = cv2.ximgproc.guidedFilter(guide, alpha, max(1, round(2.0 / scale)), 1e-4)
    foreground = cv2.resize(small.foreground, (width, height), interpolation=cv2.INTER_LINEAR)
    return Matte(np.clip(alpha, 0, 1), np.clip(foreground, 0, 1))


RULES: dict[str, Rule] = {"grey": upsample, "rgb": rgb_rule}


def frames(count: int) -> Iterator[tuple[str, np.ndarray]]:
    """``count`` frames of each clip, a second apart."""
    for clip in CLIPS:
        decoded = read_frames(DATA / "videos" / clip)
        try:
            for frame in islice(decoded, 0, count * 30, 30):
                yield f"{clip}#{frame.index}", frame.rgb
        finally:
            decoded.close()


def photos(count: int) -> Iterator[tuple[str, np.ndarray]]:
    for name, path, _ in islice(portraits(PORTRAITS), count):
        yield name, np.asarray(Image.open(path).convert("RGB"))


def compare(image_rgb: np.ndarray, segmenter: SelfieSegmenter, matter: ClosedFormMatter,
            scales: list[float]) -> dict[tuple[float, str], tuple[float, float, float, float]]:
    """(scale, rule) → (|Δα| over the picture, over the band, |ΔF|, ms) against full size."""
    trimap = segment_to_trimap(segmenter, image_rgb).trimap
    box = region(unknown_mask(trimap), CONTEXT_MARGIN)
    if box is None:
        return {}
    crop, crop_trimap = image_rgb[box], trimap[box]
    band = unknown_mask(crop_trimap)
    solve = matter._matte_as_given
    full = solve(crop, crop_trimap)
    results = {}
    for scale in scales:
        size = scaled_size(crop_trimap.shape, scale)
        small_rgb = shrink(crop, size)
        small = solve(small_rgb, shrink(crop_trimap, size, labels=True))
        for name, rule in RULES.items():
            began = time.perf_counter()
            back = rule(small, small_rgb, crop)
            spent = (time.perf_counter() - began) * 1000
            alpha = enforce_known(np.clip(back.alpha, 0, 1), crop_trimap)
            off = np.abs(alpha - enforce_known(full.alpha.copy(), crop_trimap))
            seen = full.alpha > 0.05
            colours = float(np.abs(back.foreground - full.foreground)[seen].mean())
            results[scale, name] = (float(off.sum()) / trimap.size, float(off[band].mean()),
                                    colours, spent)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3, help="frames of each clip")
    parser.add_argument("--photos", type=int, default=6, help="photos of portraits-dev")
    parser.add_argument("--scales", default="0.5,0.35")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    segmenter, matter = SelfieSegmenter(), ClosedFormMatter(max_unknown=0)
    for set_name, samples in (("video frames", frames(args.frames)),
                              ("portraits-dev", photos(args.photos))):
        rows: dict[tuple[float, str], list[tuple[float, ...]]] = {}
        count = 0
        for _, image in samples:
            count += 1
            for key, figures in compare(image, segmenter, matter, scales).items():
                rows.setdefault(key, []).append(figures)
        print(f"{set_name} ({count} pictures), against the full-size solve:")
        print(f"  {'scale':>5} {'rule':>5} {'|Δα| picture':>13} {'|Δα| band':>10} "
              f"{'|ΔF|':>7} {'ms':>6}")
        for (scale, name), figures in sorted(rows.items()):
            mean = np.mean(figures, axis=0)
            print(f"  {scale:5.2f} {name:>5} {mean[0]:13.5f} {mean[1]:10.4f} {mean[2]:7.4f} "
                  f"{mean[3]:6.1f}")


if __name__ == "__main__":
    main()
