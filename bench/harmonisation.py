"""Colour harmonisation by composite-then-restore, and what the effects cost at 720p.

For every photo of a set, with its hand-made mask as alpha (this measures harmonisation, not
matting): the person's colours are changed as another light would change them (per-channel
gains and a white-balance shift on linear light, then a gamma on the encoded values; one seeded
draw per photo, the same every run), composited back over the photo's own background, and
harmonised at full strength. Printed per set: the mean squared error of the person's pixels
against the original photo (levels², 0–255) with and without harmonisation, how much lower it
is, and, on the unchanged photos, how far harmonisation moves the person's pixels (mean
absolute difference, levels). Target: ≥ 40 % lower on every set, unchanged within 1 level.

``--tune`` prints, on portraits-tune (the set for choosing constants), the offsets between the
people's and the background's light that ``effects.NATURAL_OFFSET`` and ``DEAD_ZONE`` hold.
``--light`` scales the drawn light changes (1: the ranges below).
``--cost`` times each effect on a 1280×720 composite beside a float64 matrix product's rate.

    .venv/bin/python -m bench.harmonisation [--sets portraits-dev,fullbody-dev,davis-people]
        [--strength 1] [--tune] [--cost] [--json out/harmonisation.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from background_replacement import effects
from background_replacement.compositing import composite
from background_replacement.params import Effects
from bench.data import DATA
from bench.machine import describe, matmul_gflops

SETS = ("portraits-dev", "fullbody-dev", "davis-people")
SEED = 28
# The light changes drawn: log-uniform within these (gains and the white-balance shift on
# linear light, the gamma on encoded values).
GAIN_LOG = 0.35  # each channel's gain within e^±0.35 (0.70–1.42)
WARMTH_LOG = 0.25  # red × e^w, blue × e^−w
GAMMA_LOG = 0.2  # gamma within e^±0.2 (0.82–1.22)


def frames(name: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(id, RGB uint8 H×W×3, boolean mask H×W) of every masked photo of a set."""
    folder = DATA / name
    if not folder.is_dir():
        raise SystemExit(f"{folder} is missing: the evaluation data lives beside the project")
    if (folder / "images").is_dir():
        pairs = [(p.stem, p, folder / "masks" / f"{p.stem}.png")
                 for p in sorted((folder / "images").glob("*.jpg"))]
    else:
        items = json.loads((folder / "manifest.json").read_text())["items"]
        pairs = [(i["id"], folder / i["image"], folder / i["mask"]) for i in items]
    for key, image_path, mask_path in pairs:
        if not mask_path.is_file():
            continue
        rgb = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 127
        if mask.mean() >= 0.005:  # a person to harmonise
            yield key, rgb, mask


def relight(foreground: np.ndarray, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """float32 H×W×3 colours in [0, 1] under another light, drawn from ``rng`` (``scale``
    widens or narrows the ranges)."""
    gains = np.exp(scale * rng.uniform(-GAIN_LOG, GAIN_LOG, 3))
    warmth = scale * rng.uniform(-WARMTH_LOG, WARMTH_LOG)
    gains *= np.exp([warmth, 0.0, -warmth])
    gamma = np.exp(scale * rng.uniform(-GAMMA_LOG, GAMMA_LOG))
    lit = effects.to_srgb(effects.to_linear(foreground) * gains.astype(np.float32))
    return (lit ** np.float32(gamma)).astype(np.float32)


def person_mse(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared error (levels²) of two RGB uint8 pictures over a boolean mask."""
    difference = result[mask].astype(np.float32) - original[mask].astype(np.float32)
    return float(np.mean(difference ** 2))


def measure(name: str, strength: float, light: float = 1.0) -> dict[str, float]:
    """The set's figures (see the module's docstring)."""
    rng = np.random.default_rng(SEED)
    without, with_, unchanged = [], [], []
    for _, rgb, mask in frames(name):
        draw = np.random.default_rng(rng.integers(2**63))
        alpha = mask.astype(np.float32)
        original = rgb.astype(np.float32) / 255
        altered = relight(original, draw, light)
        without.append(person_mse(composite(altered, alpha, rgb), rgb, mask))
        restored = effects.harmonise(altered, alpha, rgb, strength)
        with_.append(person_mse(composite(restored, alpha, rgb), rgb, mask))
        kept = composite(effects.harmonise(original, alpha, rgb, strength), alpha, rgb)
        unchanged.append(float(np.abs(kept[mask].astype(np.float32) - rgb[mask]).mean()))
    mse_without, mse_with = float(np.mean(without)), float(np.mean(with_))
    return {"photos": len(without), "mse_without": mse_without, "mse_with": mse_with,
            "lower_percent": 100 * (1 - mse_with / mse_without),
            "unchanged_levels": float(np.mean(unchanged)),
            "unchanged_worst_levels": float(np.max(unchanged))}


def natural_offsets(name: str = "portraits-tune") -> None:
    """Print the people-minus-background log light of a set's photos as they are."""
    rows = []
    for _, rgb, mask in frames(name):
        alpha = mask.astype(np.float32)
        rows.append(effects.light_offset(rgb.astype(np.float32) / 255, alpha, rgb))
    offsets = np.array([row for row in rows if row is not None])
    chroma = offsets - offsets.mean(axis=1, keepdims=True)
    median = np.median(chroma, axis=0)
    print(f"{name}: {len(offsets)} photos; median light colour offset (r, g, b) "
          f"{median.round(3)} (effects.NATURAL_OFFSET)")
    for share in (50, 75, 90):
        print(f"  {share}th percentile of its deviation, all channels: "
              f"{np.percentile(np.abs(chroma - median), share):.3f}")


def cost(repeats: int = 5) -> None:
    """Milliseconds of each effect on a 1280×720 composite, beside the matrix product's rate."""
    rng = np.random.default_rng(0)
    height, width = 720, 1280
    alpha = np.zeros((height, width), np.float32)
    cv2.ellipse(alpha, (640, 420), (180, 300), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 3)
    # Under a light whose colour the background lacks, so harmonisation has work to do.
    foreground = rng.random((height, width, 3), dtype=np.float32) * np.float32([1, 0.8, 0.55])
    background = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    full = Effects(harmonise=1.0, light_wrap=0.5, shadow=0.6)
    jobs = {
        "composite alone": lambda: composite(foreground, alpha, background),
        "harmonise": lambda: effects.harmonise(foreground, alpha, background, 1.0),
        "light wrap": lambda: effects.light_wrap(foreground, alpha, background, 0.5),
        "shadow": lambda: effects.shade(background, effects.shadow_map(alpha, 20.0), 0.6),
        "all three + composite": lambda: composite(*_all(foreground, alpha, background,
                                                         full)),
    }
    gains = effects.harmonisation_gains(foreground, alpha, background, 1.0)
    print(f"harmonisation gains on the bench's picture: {gains.round(3)}")
    gflops = matmul_gflops()
    print(f"cost at 1280×720 ({describe()}); float64 matrix product {gflops:.0f} GFLOP/s")
    for label, job in jobs.items():
        job()
        best = min(_seconds(job) for _ in range(repeats))
        print(f"  {label:24s} {best * 1000:7.1f} ms")
    print(f"  float64 matrix product now {matmul_gflops():.0f} GFLOP/s")


def _all(foreground: np.ndarray, alpha: np.ndarray, background: np.ndarray,
         chosen: Effects) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``composite``'s arguments after every effect of ``chosen``."""
    applied = effects.plan(chosen, ground=True, picture=True)
    shown, behind = effects.apply_effects(foreground, alpha, background, chosen, applied)
    return shown, alpha, behind


def _seconds(job: Callable[[], object]) -> float:
    start = time.perf_counter()
    job()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--light", type=float, default=1.0)
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--cost", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.tune:
        natural_offsets()
        return
    if args.cost:
        cost()
        return
    print(f"harmonisation at strength {args.strength:g}, light changes × {args.light:g}, "
          f"seed {SEED} ({describe()})")
    results = {}
    for name in args.sets.split(","):
        started = time.perf_counter()
        results[name] = figures = measure(name, args.strength, args.light)
        print(f"{name:14s} {figures['photos']:4d} photos  person MSE without "
              f"{figures['mse_without']:8.1f}  with {figures['mse_with']:8.1f}  "
              f"({figures['lower_percent']:5.1f} % lower)  unchanged photos moved "
              f"{figures['unchanged_levels']:.2f} levels (worst "
              f"{figures['unchanged_worst_levels']:.2f})  [{time.perf_counter() - started:.0f} s]")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
