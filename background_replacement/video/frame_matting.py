"""How one video frame gets its matte, within a per-frame budget of pixels: shrunk before it is
segmented and matted, its matte brought back to the frame's size by the core's one rule
(``background_replacement.scaling``, whose docstring says how this budget and a matter's
combine). Where the matte comes from is a ``FrameMatting``: the core in this process
(``LocalMatting``), or the matting service (``client.service_matting.ServiceMatting``).

Closed-form matting costs more than the frame's pixels grow (a 640×480 frame of a person: about
0.25 s of a core at full size, 0.03 s at half its sides), while the frame's people hardly need
it. A frame of more than ``DEFAULT_SOLVE_PIXELS`` is therefore shrunk (area-averaged) *before*
it is segmented and matted, with the trimap's band (erosions and dilations) scaled with it so
that the band covers the same share of the picture. Over HTTP the frame travels shrunk, so
neither the services nor the connection handle pixels the solve would throw away.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from background_replacement.api import BackgroundReplacer
from background_replacement.matters.base import Matte
from background_replacement.params import DEFAULT_PARAMS, TrimapParams, scaled_band
from background_replacement.scaling import scaled_size, shrink, solve_scale, upsample

# Frames above this many pixels are matted smaller (320×240: half the sides of 640×480). On
# asl_thanks.mkv, against the full-size solve, alpha differs by 0.003 on average and its
# flicker with temporal stability on stays as it was (bench/video.py prints both).
DEFAULT_SOLVE_PIXELS = 320 * 240
SOLVE_PIXELS_HELP = ("matte each frame shrunk to about this many pixels and bring the matte back "
                     "to its size; 0: at full size (default: %(default)s)")


@dataclass(frozen=True)
class Matted:
    """One frame's matte: foreground colours F (float32 H×W×3 in [0, 1]), alpha (float32 H×W
    in [0, 1]) and the people found (``None``: not known)."""

    foreground: np.ndarray
    alpha: np.ndarray
    people_count: int | None


class FrameMatting(Protocol):
    """Where a frame's matte comes from; safe to call from several threads at once."""

    def matte(self, image_rgb: np.ndarray, params: TrimapParams) -> Matted:
        """The matte of an RGB uint8 H×W×3 frame at its own size; a frame with nobody in it
        has alpha 0."""
        ...

    def backgrounds(self, width: int, height: int) -> Mapping[str, np.ndarray]:
        """The named backgrounds (RGB uint8 H×W×3 by name), for a width×height video."""
        ...

    def max_in_flight(self) -> int:
        """How many frames are best matted at once."""
        ...


def from_cutout(rgba: np.ndarray, people_count: int | None) -> Matted:
    """An RGBA uint8 H×W×4 cutout → ``Matted``."""
    foreground = rgba[:, :, :3].astype(np.float32) / 255.0
    return Matted(foreground, rgba[:, :, 3].astype(np.float32) / 255.0, people_count)


@dataclass(frozen=True)
class LocalMatting:
    """Frames through the core in this process: ``BackgroundReplacer.replace`` for a cutout,
    as the service would answer it."""

    replacer: BackgroundReplacer

    @classmethod
    def load(cls) -> LocalMatting:
        """The core's models, loaded with the settings the services read from the environment
        (``SEGMENTER``, ``MATTER``, …)."""
        return cls(BackgroundReplacer())

    def matte(self, image_rgb: np.ndarray, params: TrimapParams) -> Matted:
        rgba = self.replacer.replace_array(image_rgb, output="cutout", if_no_person="empty",
                                           params=params)
        return from_cutout(rgba, None if rgba[:, :, 3].any() else 0)

    def backgrounds(self, width: int, height: int) -> Mapping[str, np.ndarray]:
        return self.replacer.backgrounds

    def max_in_flight(self) -> int:
        return len(os.sched_getaffinity(0))  # one frame a core


def matte_frame(matting: FrameMatting, image_rgb: np.ndarray, *,
                solve_pixels: int = DEFAULT_SOLVE_PIXELS,
                params: TrimapParams = DEFAULT_PARAMS,
                stages: dict[str, float] | None = None) -> Matted:
    """One frame's matte at its size, solved on at most about ``solve_pixels`` pixels (0: at
    full size). ``stages`` gets the seconds spent shrinking, matting and upsampling added."""
    stages = {} if stages is None else stages
    began = time.perf_counter()
    scale = solve_scale(image_rgb.shape[0] * image_rgb.shape[1], solve_pixels)
    if scale == 1.0:
        matted = matting.matte(image_rgb, params)
        stages["matte"] = stages.get("matte", 0.0) + time.perf_counter() - began
        return matted
    small_rgb = shrink(image_rgb, scaled_size(image_rgb.shape, scale))
    matting_began = time.perf_counter()
    small = matting.matte(small_rgb, scaled_band(params, scale))
    upsampling_began = time.perf_counter()
    back = upsample(Matte(small.alpha, small.foreground), small_rgb, image_rgb)
    ended = time.perf_counter()
    for name, seconds in (("shrink", matting_began - began),
                          ("matte", upsampling_began - matting_began),
                          ("upsample", ended - upsampling_began)):
        stages[name] = stages.get(name, 0.0) + seconds
    return Matted(back.foreground, back.alpha, small.people_count)
