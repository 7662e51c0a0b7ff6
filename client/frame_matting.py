"""How one video frame gets its matte: from the matting service over HTTP, or from the core in
this process (``BackgroundReplacer``), solved within a per-frame budget of pixels and brought back
to the frame's size.

Closed-form matting costs more than the frame's pixels grow (a 640×480 frame of a person: about
0.25 s of a core at full size, 0.03 s at half its sides), while the frame's people hardly need
it. A frame of more than ``DEFAULT_SOLVE_PIXELS`` is therefore shrunk (area-averaged) *before*
it is segmented and matted, with the trimap's band (erosions and dilations) scaled with it so
that the band covers the same share of the picture, and only the answer is brought back to the
frame's size (``upsample``). Over HTTP the frame travels shrunk, so neither the services nor the
connection handle pixels the solve would throw away.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
from background_replacement.client.backdrops import ServiceBackgrounds
from background_replacement.client.matting_client import MattingClient, MattingError

from background_replacement.api import BackgroundReplacer
from background_replacement.matters.base import region, solve_scale
from background_replacement.params import DEFAULT_PARAMS, TrimapParams, scaled_band

# Frames above this many pixels are matted smaller (320×240: half the sides of 640×480). On
# asl_thanks.mkv, against the full-size solve, alpha differs by 0.003 on average and its
# flicker with temporal stability on stays as it was (bench/video.py prints both).
DEFAULT_SOLVE_PIXELS = 320 * 240
SOLVE_PIXELS_HELP = ("matte each frame shrunk to about this many pixels and bring the matte back "
                     "to its size; 0: at full size (default: %(default)s)")
# Frames travel as PNG: the service mattes exactly the pixels the core would in process (as
# JPEG at quality 95 the alpha flickered 5 % more). Huffman coding alone: a 320×240 frame in
# 3.3 ms and 82 kB, where zlib's default strategy takes 4.0 ms for 93 kB.
PNG_OPTIONS = (cv2.IMWRITE_PNG_COMPRESSION, 1,
               cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY)


@dataclass(frozen=True)
class Matted:
    """One frame's matte: foreground colours F (float32 H×W×3 in [0, 1]), alpha (float32 H×W
    in [0, 1]) and the people found (``None``: not known)."""

    foreground: np.ndarray
    alpha: np.ndarray
    people: int | None


class FrameMatting(Protocol):
    """Where a frame's matte comes from; safe to call from several threads at once."""

    def matte(self, image_rgb: np.ndarray, params: TrimapParams) -> Matted:
        """The matte of an RGB uint8 H×W×3 frame at its own size; a frame with nobody in it
        has alpha 0."""
        ...

    def backgrounds(self, width: int, height: int) -> Mapping[str, np.ndarray]:
        """The named backgrounds (RGB uint8 H×W×3 by name), for a width×height video."""
        ...


def encode_png(image_rgb: np.ndarray) -> bytes:
    """RGB uint8 H×W×3 → PNG bytes, quickly (``PNG_OPTIONS``)."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), PNG_OPTIONS)
    if not ok:
        raise ValueError("PNG encoding failed")
    return data.tobytes()


def from_cutout(rgba: np.ndarray, people: int | None) -> Matted:
    """An RGBA uint8 H×W×4 cutout → ``Matted``."""
    foreground = rgba[:, :, :3].astype(np.float32) / 255.0
    return Matted(foreground, rgba[:, :, 3].astype(np.float32) / 255.0, people)


def decode_cutout(data: bytes, height: int, width: int) -> np.ndarray:
    """A cutout PNG → RGBA uint8 H×W×4; ``MattingError`` when it is not an RGBA image of the
    frame's size."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.shape != (height, width, 4):
        shape = None if pixels is None else pixels.shape
        raise MattingError(f"the service answered {shape} for a {width}×{height} frame; "
                           "expected an RGBA cutout of the same size")
    return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA)


@dataclass(frozen=True)
class ServiceMatting:
    """Frames through the matting service's ``POST /matte``: sent as PNG for ``output=cutout``
    (``if_no_person=empty``), answered as a PNG too."""

    client: MattingClient

    def matte(self, image_rgb: np.ndarray, params: TrimapParams) -> Matted:
        answer = self.client.request(encode_png(image_rgb), output="cutout", fmt="png",
                                     if_no_person="empty", **params.to_form())
        return from_cutout(decode_cutout(answer.content, *image_rgb.shape[:2]), answer.people)

    def backgrounds(self, width: int, height: int) -> Mapping[str, np.ndarray]:
        return ServiceBackgrounds(self.client, width, height)


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


def shrink_frame(image_rgb: np.ndarray, scale: float) -> np.ndarray:
    """An RGB uint8 frame at ``scale`` (< 1) of its sides, area-averaged; at least 8 pixels a
    side."""
    height, width = image_rgb.shape[:2]
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    return cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)


def upsample(small: Matted, small_rgb: np.ndarray, image_rgb: np.ndarray) -> Matted:
    """Bring a matte solved on ``small_rgb`` (the frame shrunk) to ``image_rgb``'s size.

    Alpha: bilinear, then a guided filter with the full-size gray frame as guide and a radius
    of one solved pixel, so that its edges follow the frame's. On asl_thanks.mkv, against the
    full-size solve, that is closer (mean |Δα| 0.0031) than bilinear alone (0.0033) or a colour
    guide with twice the radius (0.0091, three times the time). Foreground colours: the
    full-size frame plus the correction the matter made to the small frame's colours where
    alpha is below 1, upsampled; the people stay as sharp as the frame, their edges get the
    matter's colours. Both are worked out only inside the box around alpha's edges
    (``edge_box``); elsewhere alpha is 0 or 1 and the colours are the frame's.
    """
    height, width = image_rgb.shape[:2]
    radius = max(1, round(width / small.alpha.shape[1]))
    alpha = cv2.resize(small.alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    foreground = image_rgb.astype(np.float32) / 255.0
    box = edge_box(small.alpha, (height, width), margin=2 * radius + 2)
    if box is not None:
        guide = cv2.cvtColor(image_rgb[box], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        edges = cv2.ximgproc.guidedFilter(guide, np.ascontiguousarray(alpha[box]), radius, 1e-4)
        alpha[box] = np.clip(edges, 0.0, 1.0)
        correction = small.foreground - small_rgb.astype(np.float32) / 255.0
        correction *= (small.alpha < 1.0)[:, :, None]
        correction = cv2.resize(correction, (width, height), interpolation=cv2.INTER_LINEAR)
        foreground[box] = np.clip(foreground[box] + correction[box], 0.0, 1.0)
    return Matted(foreground, alpha, small.people)


def edge_box(alpha_small: np.ndarray, shape: tuple[int, int],
             margin: int) -> tuple[slice, slice] | None:
    """The box of a height×width frame (``shape``) around the pixels whose small alpha is
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
    small_rgb = shrink_frame(image_rgb, scale)
    matting_began = time.perf_counter()
    small = matting.matte(small_rgb, scaled_band(params, scale))
    upsampling_began = time.perf_counter()
    matted = upsample(small, small_rgb, image_rgb)
    ended = time.perf_counter()
    for name, seconds in (("shrink", matting_began - began),
                          ("matte", upsampling_began - matting_began),
                          ("upsample", ended - upsampling_began)):
        stages[name] = stages.get(name, 0.0) + seconds
    return matted
