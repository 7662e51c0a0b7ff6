"""Solve small, bring back: the one rule by which a matte is solved on fewer pixels than the
picture has and brought back to its size.

Closed-form matting costs more than the pixels grow, and FBA's time grows with them, while
alpha's edges hardly need every pixel. So a picture over a budget is shrunk (``shrink``:
area-averaged; a trimap nearest, so it keeps its three values), solved, and its matte brought
back (``upsample``): alpha bilinearly, then through a guided filter whose guide is the
full-size grey picture and whose radius is one solved pixel, so its edges follow the
picture's; the foreground colours as the full-size picture plus the matter's correction of the
small picture's colours, upsampled, so the people stay as sharp as the picture. Both only in
the box around alpha's edges (``edge_box``): elsewhere alpha is 0 or 1 and F the picture.
``bench/scaling.py`` measures this rule against the one the matters used before (RGB guide of
twice the radius, colours upsampled bilinearly): it is the closer to the full-size solve.

Budgets. There are two, and they apply to different things, each at most once:

- a video frame's (``--solve-pixels``, ``DEFAULT_SOLVE_PIXELS``: 320×240) bounds the whole
  frame, before it is segmented: the frame is shrunk, segmented and matted small, the trimap's
  band scaled with it, and its matte brought back here (``video.frame_matting.matte_frame``);
- a matter's (``CLOSED_FORM_MAX_UNKNOWN`` unknown pixels, ``FBA_MAX_PIXELS`` pixels of its
  box) bounds one solve, inside the matter (``matte_at_scale``).

A frame within its budget is matted by the matter as any picture is: the matter's budget
applies to the shrunk frame only if its solve is still over it (with the defaults hardly ever:
a 320×240 frame has 76,800 pixels, under FBA's 250,000, and its unknown band is a small part of
them, under closed-form's 20,000), and then the same rule brings the solve back to the shrunk
frame, and the frame's to the frame: one rule, each step guided by the picture at its own
size, never two rules one after the other. A photo has no frame budget: only the matter's.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from background_replacement.matters.base import MIN_SOLVE_SIDE, Matte, region


def solve_scale(pixels: int, max_pixels: int) -> float:
    """The factor (≤ 1) on each side that brings ``pixels`` down to about ``max_pixels``;
    1 when ``max_pixels`` is 0 (no limit)."""
    if max_pixels <= 0 or pixels <= max_pixels:
        return 1.0
    return float(np.sqrt(max_pixels / pixels))


def scaled_size(shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    """(width, height) of a picture of ``shape`` (H, W, …) at ``scale``, at least
    ``MIN_SOLVE_SIDE`` a side."""
    height, width = shape[:2]
    return (max(MIN_SOLVE_SIDE, round(width * scale)),
            max(MIN_SOLVE_SIDE, round(height * scale)))


def shrink(pixels: np.ndarray, size: tuple[int, int], *, labels: bool = False) -> np.ndarray:
    """``pixels`` (H×W or H×W×C) at ``size`` (width, height): area-averaged, or with ``labels``
    (a trimap, a label mask) the nearest pixel, so no new value appears; as it is when it
    already has that size."""
    if pixels.shape[1::-1] == tuple(size):
        return pixels
    return cv2.resize(pixels, size, interpolation=cv2.INTER_NEAREST if labels
                      else cv2.INTER_AREA)


def upsample(small: Matte, small_rgb: np.ndarray, image_rgb: np.ndarray) -> Matte:
    """Bring a matte solved on ``small_rgb`` (``image_rgb`` shrunk) to ``image_rgb``'s size, by
    the rule of this module's docstring. Alpha float32 H×W in [0, 1], colours float32
    H×W×3 in [0, 1]."""
    height, width = image_rgb.shape[:2]
    radius = max(1, round(width / small.alpha.shape[1]))
    alpha = cv2.resize(small.alpha.astype(np.float32), (width, height),
                       interpolation=cv2.INTER_LINEAR)
    foreground = image_rgb.astype(np.float32) / 255.0
    box = edge_box(small.alpha, (height, width), margin=2 * radius + 2)
    if box is not None:
        guide = cv2.cvtColor(image_rgb[box], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        edges = cv2.ximgproc.guidedFilter(guide, np.ascontiguousarray(alpha[box]), radius, 1e-4)
        alpha[box] = np.clip(edges, 0.0, 1.0)
        correction = small.foreground.astype(np.float32) - small_rgb.astype(np.float32) / 255.0
        correction *= (small.alpha < 1.0)[:, :, None]
        correction = cv2.resize(correction, (width, height), interpolation=cv2.INTER_LINEAR)
        foreground[box] = np.clip(foreground[box] + correction[box], 0.0, 1.0)
    return Matte(alpha, foreground)


def edge_box(alpha_small: np.ndarray, shape: tuple[int, int],
             margin: int) -> tuple[slice, slice] | None:
    """The box of a height×width picture (``shape``) around the pixels whose small alpha is
    neither all 0 nor all 1 in their 3×3 neighbourhood, grown by ``margin`` full-size pixels;
    None when alpha is 0 or 1 everywhere. Outside it, bilinear upsampling gives alpha 0 or 1,
    and so would the guided filter."""
    square = np.ones((3, 3), np.uint8)
    mixed = cv2.dilate((alpha_small > 0).astype(np.uint8), square) & \
        cv2.dilate((alpha_small < 1).astype(np.uint8), square)
    box = region(mixed.astype(bool), 0)
    if box is None:
        return None
    height, width = shape
    down, across = height / alpha_small.shape[0], width / alpha_small.shape[1]
    rows, cols = box
    return (slice(max(0, int(rows.start * down) - margin),
                  min(height, int(np.ceil(rows.stop * down)) + margin)),
            slice(max(0, int(cols.start * across) - margin),
                  min(width, int(np.ceil(cols.stop * across)) + margin)))


def matte_at_scale(image_rgb: np.ndarray, trimap: np.ndarray, scale: float,
                   solve: Callable[[np.ndarray, np.ndarray], Matte]) -> Matte:
    """Run ``solve(image, trimap) -> Matte`` at ``scale`` of the size (1: as it is) and bring
    its matte back with ``upsample``; the caller enforces the known regions on the result."""
    if scale == 1.0:
        return solve(image_rgb, trimap)
    size = scaled_size(trimap.shape, scale)
    small_rgb = shrink(image_rgb, size)
    return upsample(solve(small_rgb, shrink(trimap, size, labels=True)), small_rgb, image_rgb)
