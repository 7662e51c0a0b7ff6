"""The README's before/after pictures of the composite's effects, made from the public-domain
``examples/astronaut.png`` and backgrounds drawn here (so every pixel is the project's own).

    .venv/bin/python -m scripts.effect_pictures [--out examples/effects]

The astronaut is matted once in process (the Python API, embedded models); each picture shows
the same composite without and with one effect, side by side, as a small JPEG.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from background_replacement import effects
from background_replacement.api import BackgroundReplacer
from background_replacement.compositing import composite
from background_replacement.params import Effects

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "examples" / "astronaut.png"
OUT = ROOT / "examples" / "effects"
SIDE = 320  # each half of a picture
NAMES = ("harmonise", "light-wrap", "shadow")  # the pictures, examples/effects/NAME.jpg
FLOOR = 0.62  # where the floor begins in the shadow's room, a share of the height


def warm_light(size: int) -> np.ndarray:
    """A textured wall under warm evening light, brighter at the top (RGB uint8)."""
    rng = np.random.default_rng(28)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 3)
    rows = np.linspace(1.0, 0.55, size, dtype=np.float32)[:, None, None]
    wall = rows * np.float32([255, 170, 95]) * (1 + 0.12 * texture[:, :, None])
    return np.clip(wall, 0, 255).astype(np.uint8)


def bright_window(size: int) -> np.ndarray:
    """A bright, cool window light with soft shapes behind the people (RGB uint8)."""
    rng = np.random.default_rng(7)
    blobs = cv2.GaussianBlur(rng.random((size // 16, size // 16, 3), dtype=np.float32),
                             (0, 0), 1.5)
    light = cv2.resize(blobs, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(150 + 105 * light * np.float32([0.7, 0.9, 1.0]), 0, 255).astype(np.uint8)


def room(size: int) -> np.ndarray:
    """A plain wall meeting a lighter floor (RGB uint8): a ground for the shadow."""
    picture = np.empty((size, size, 3), np.uint8)
    floor = round(FLOOR * size)
    picture[:floor] = np.linspace(150, 120, floor)[:, None, None] * np.float32([1, 0.97, 0.92])
    picture[floor:] = np.linspace(205, 225, size - floor)[:, None, None] * np.float32(
        [1, 0.98, 0.94])
    return picture


def standing(foreground: np.ndarray, alpha: np.ndarray,
             size: int) -> tuple[np.ndarray, np.ndarray]:
    """The people shrunk to 60 % and set on the room's floor (the photo's bottom edge on it),
    on a size×size canvas: foreground colours and alpha."""
    side = round(0.6 * size)
    small_f = cv2.resize(foreground, (side, side), interpolation=cv2.INTER_AREA)
    small_a = cv2.resize(alpha, (side, side), interpolation=cv2.INTER_AREA)
    top, left = round(0.9 * size) - side, (size - side) // 2
    canvas_f = np.zeros((size, size, 3), np.float32)
    canvas_a = np.zeros((size, size), np.float32)
    canvas_f[top:top + side, left:left + side] = small_f
    canvas_a[top:top + side, left:left + side] = small_a
    return canvas_f, canvas_a


def pair(before: np.ndarray, after: np.ndarray) -> Image.Image:
    """Before and after side by side, each ``SIDE`` pixels a side, labelled."""
    halves = []
    for label, picture in (("before", before), ("after", after)):
        half = cv2.resize(picture, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        cv2.putText(half, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2,
                    cv2.LINE_AA)
        halves.append(half)
    return Image.fromarray(np.hstack(halves))


def make(out: Path) -> list[Path]:
    """Write the three pictures into ``out``; their paths."""
    replacer = BackgroundReplacer({"segmenter": "selfie", "matter": "closed-form"})
    rgba = replacer.replace_array(PHOTO, output="cutout")
    foreground, alpha = rgba[..., :3].astype(np.float32) / 255, rgba[..., 3] / np.float32(255)
    size = alpha.shape[0]
    scenes = dict(zip(NAMES, (
        (foreground, alpha, warm_light(size), Effects(harmonise=1.0)),
        (foreground, alpha, bright_window(size), Effects(light_wrap=1.0)),
        (*standing(foreground, alpha, size), room(size), Effects(shadow=0.8, shadow_angle=-35)),
    ), strict=True))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (colours, matte, background, chosen) in scenes.items():
        applied = effects.plan(chosen, ground=True, picture=True)
        after = composite(*_with(colours, matte, background, chosen, applied))
        path = out / f"{name}.jpg"
        pair(composite(colours, matte, background), after).save(path, quality=85)
        written.append(path)
    return written


def _with(colours: np.ndarray, matte: np.ndarray, background: np.ndarray, chosen: Effects,
          applied: effects.Applied) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``composite``'s arguments after the effects."""
    shown, behind = effects.apply_effects(colours, matte, background, chosen, applied)
    return shown, matte, behind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    for path in make(parser.parse_args().out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
