"""Effects that make a composite look shot in place: colour harmonisation, light wrap and a
shadow on the ground (pure numpy and OpenCV).

Conventions as in ``compositing``: foreground colours F are float32 H×W×3 in [0, 1], alpha is
float32 H×W in [0, 1], backgrounds are RGB uint8 H×W×3. Each effect is a pure function; the
video command keeps what should not jump from frame to frame (``VideoEffects``).

Harmonisation works on the colour of the light, not of the things: it compares the gray-edge
estimate of the light on the people with that on the new background (linear light), and
removes the difference beyond what photos taken in place show, as one gain per channel (a
change of light multiplies linear colours). Differences within a dead zone are left alone, so
a person already in place stays as they are; brightness is kept (see README for why).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from background_replacement.params import NO_EFFECTS, Effects

# The people's light minus the background's (``light_offset``, less the channels' mean) in
# photos taken in place: the median over portraits-tune (300 photos with hand-made masks; the
# people's edges are warmer). Printed by ``python -m bench.harmonisation --tune``.
NATURAL_OFFSET = np.array([0.091, -0.026, -0.057], np.float32)
# Differences from it up to this (log units) are a photo's own; only the rest is corrected.
# Chosen on portraits-tune (bench.harmonisation --sets portraits-tune) as the smallest of 0.2,
# 0.25, 0.3 with which unchanged photos stay within a level at full strength: 1.39, 1.02 and
# 0.76 levels, for 16.3, 13.3 and 10.6 % less error on re-lit ones.
DEAD_ZONE = 0.3
# The largest correction, log units: no light change makes skin green or blue.
MAX_CORRECTION = 0.35
LUT_SIZE = 4096  # steps of the tables harmonisation's gains are applied through
WORK_SIDE = 640  # light wrap and the shadow are smooth: drawn on a copy at most this a side
WRAP_SIGMA = 0.006  # light wrap's reach, a share of the diagonal
SHADOW_LENGTH = 0.35  # the cast shadow's length on the ground, a share of the people's height
CAST_DARKNESS, CONTACT_DARKNESS = 0.45, 0.75  # at full opacity, where each is darkest


def to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] → linear light (float32, same shape)."""
    srgb = np.asarray(srgb, np.float32)
    return np.where(srgb <= 0.04045, srgb / 12.92,
                    ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] → sRGB values (float32, same shape), clipped to [0, 1]."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92,
                    1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def _edge_light(linear: np.ndarray, weight: np.ndarray) -> np.ndarray | None:
    """log of the Minkowski (p = 6) mean of each channel's gradient magnitude over ``weight``
    (3,), the gray-edge estimate of the light's colour (van de Weijer et al. 2007: the average
    edge is achromatic); None with too little weight."""
    total = float(weight.sum())
    if total < 4.0:
        return None
    gradient = np.abs(cv2.Sobel(linear, cv2.CV_32F, 1, 0)) + \
        np.abs(cv2.Sobel(linear, cv2.CV_32F, 0, 1))
    power = np.einsum("hwc,hw->c", gradient ** 6, weight) / total
    return np.log(power ** (1 / 6) + np.float32(1e-4))


def light_offset(foreground: np.ndarray, alpha: np.ndarray,
                 background_rgb: np.ndarray) -> np.ndarray | None:
    """The colour of the light on the people against the background's: the log gray-edge
    estimates (r, g, b; the people's minus the background's, float32 (3,)), taken away from
    the edge between them (whose gradients mix both); None when either has too few pixels.
    Computed on a copy at most 256 px a side: the estimates are means, and the copy makes them
    cheap at any size."""
    small = _small(alpha.shape)
    alpha_s = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    inside = cv2.erode((alpha_s >= 0.99).astype(np.uint8), disc).astype(np.float32)
    outside = cv2.erode((alpha_s <= 0.01).astype(np.uint8), disc).astype(np.float32)
    person = _edge_light(to_linear(cv2.resize(foreground, small,
                                              interpolation=cv2.INTER_AREA)), inside)
    behind = _edge_light(to_linear(cv2.resize(background_rgb, small,
                                              interpolation=cv2.INTER_AREA) / np.float32(255)),
                         outside)
    if person is None or behind is None:
        return None
    return (person - behind).astype(np.float32)


def harmonisation_gains(foreground: np.ndarray, alpha: np.ndarray, background_rgb: np.ndarray,
                        strength: float) -> np.ndarray:
    """Per-channel gains (float32 (3,)) on the people's linear colours that carry them into
    the background's light; ones where there is nothing to compare.

    Only the light's colour is corrected: the chroma of ``light_offset`` (its deviation from
    the channels' mean) less ``NATURAL_OFFSET``, beyond ``DEAD_ZONE`` and at most
    ``MAX_CORRECTION``. ``strength`` in [0, 1] scales the correction's logarithm.
    """
    offset = light_offset(foreground, alpha, background_rgb)
    if offset is None or strength <= 0:
        return np.ones(3, np.float32)
    chroma = offset - float(offset.mean()) - NATURAL_OFFSET
    correction = np.clip(_beyond(chroma, DEAD_ZONE), -MAX_CORRECTION, MAX_CORRECTION)
    return np.exp(-strength * correction).astype(np.float32)


def _beyond(values: np.ndarray, zone: float) -> np.ndarray:
    """What lies beyond ±``zone`` of each value (soft thresholding)."""
    return np.sign(values) * np.maximum(np.abs(values) - zone, 0.0)


def _small(shape: tuple[int, int], side: int = 256) -> tuple[int, int]:
    """(width, height) of a copy of an H×W picture at most ``side`` pixels a side."""
    height, width = shape
    scale = min(1.0, side / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def apply_gains(foreground: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """The foreground colours (float32 H×W×3 in [0, 1]) under per-channel linear ``gains``.

    Through a table of ``LUT_SIZE`` steps per channel (within about 0.05 levels of the exact
    curve, and faster than decoding and encoding every pixel)."""
    if np.allclose(gains, 1.0):
        return foreground
    steps = np.linspace(0.0, 1.0, LUT_SIZE, dtype=np.float32)
    index = np.clip(foreground * np.float32(LUT_SIZE - 1) + np.float32(0.5), 0,
                    LUT_SIZE - 1).astype(np.int32)
    result = np.empty_like(foreground, dtype=np.float32)
    for channel in range(3):
        table = to_srgb(to_linear(steps) * np.float32(gains[channel]))
        result[..., channel] = table[index[..., channel]]
    return result


def harmonise(foreground: np.ndarray, alpha: np.ndarray, background_rgb: np.ndarray,
              strength: float) -> np.ndarray:
    """The people's colours (float32 H×W×3 in [0, 1]) matched to the background's light
    (``harmonisation_gains``)."""
    return apply_gains(foreground, harmonisation_gains(foreground, alpha, background_rgb,
                                                       strength))


def light_wrap(foreground: np.ndarray, alpha: np.ndarray, background_rgb: np.ndarray,
               amount: float) -> np.ndarray:
    """The people's colours with a little of the background's light on their soft edges.

    The background near each pixel (a normalised blur of it where the people are not) is mixed
    into the colours by ``amount`` × how far the pixel lies toward the outside (1 − a blur of
    alpha): nothing deep inside the people, most on thin hair. float32 H×W×3 in [0, 1].
    """
    if amount <= 0:
        return foreground
    height, width = alpha.shape
    small = _small(alpha.shape, WORK_SIDE)  # the blurs are smooth: work on a smaller copy
    sigma = max(1.0, WRAP_SIGMA * float(np.hypot(*small)))
    alpha_s = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA)
    behind = (1.0 - alpha_s)[:, :, None]
    back = cv2.resize(background_rgb, small, interpolation=cv2.INTER_AREA)
    light = cv2.GaussianBlur(back.astype(np.float32) / 255 * behind, (0, 0), sigma)
    weight = cv2.GaussianBlur(behind, (0, 0), sigma)
    weight = weight[:, :, None] if weight.ndim == 2 else weight
    light = light / np.maximum(weight, 1e-3)
    outside = 1.0 - cv2.GaussianBlur(alpha_s, (0, 0), sigma)
    mix = amount * np.clip(outside * 2.0, 0.0, 1.0)
    light = cv2.resize(light, (width, height), interpolation=cv2.INTER_LINEAR)
    mix = cv2.resize(mix, (width, height), interpolation=cv2.INTER_LINEAR) * (alpha > 0)
    return (foreground + mix[:, :, None] * (light - foreground)).astype(np.float32)


def ground_row(alpha: np.ndarray) -> float | None:
    """The row the people stand on: the lowest whose solid pixels (alpha ≥ 0.5) are at least
    0.2 % of the people's, so a stray speck does not count; None when nobody is there."""
    counts = (alpha >= 0.5).sum(axis=1)
    rows = np.flatnonzero(counts >= max(1.0, 0.002 * float(counts.sum())))
    return None if rows.size == 0 else float(rows[-1])


def shadow_map(alpha: np.ndarray, angle: float, base: float | None = None) -> np.ndarray:
    """How dark the people's shadow makes each pixel, float32 H×W in [0, 1] (before opacity).

    A contact shadow (the people's lowest part, blurred, right under them) and a cast shadow
    (their silhouette laid on the ground behind them: flattened to ``SHADOW_LENGTH`` of its
    height and leaning ``angle`` degrees, fading with distance and softening). ``base``: the
    row they stand on (default ``ground_row``). A shadow is soft: it is drawn on a copy at
    most ``WORK_SIDE`` pixels a side and brought back to the matte's size.
    """
    base = ground_row(alpha) if base is None else base
    height, width = alpha.shape
    small = _small(alpha.shape, WORK_SIDE)
    if small == (width, height) or base is None:
        return _shadow_at_size(alpha, angle, base)
    scale = small[1] / height
    shadow = _shadow_at_size(cv2.resize(alpha, small, interpolation=cv2.INTER_AREA), angle,
                             base * scale)
    return cv2.resize(shadow, (width, height), interpolation=cv2.INTER_LINEAR)


def _shadow_at_size(alpha: np.ndarray, angle: float, base: float | None) -> np.ndarray:
    """``shadow_map`` at the size of ``alpha``."""
    height, width = alpha.shape
    rows = np.flatnonzero((alpha >= 0.5).any(axis=1))
    if base is None or rows.size == 0:
        return np.zeros_like(alpha)
    tall = max(8.0, base - float(rows[0]) + 1.0)
    lean = float(np.tan(np.radians(angle))) * SHADOW_LENGTH
    # Source (x, y) → (x + lean·(base − y), base − L·(base − y)) on the ground behind.
    matrix = np.float32([[1.0, -lean, lean * base],
                         [0.0, SHADOW_LENGTH, base * (1.0 - SHADOW_LENGTH)]])
    cast = cv2.warpAffine(alpha, matrix, (width, height), flags=cv2.INTER_LINEAR)
    distance = np.clip((base - np.arange(height, dtype=np.float32)) / (SHADOW_LENGTH * tall),
                       0.0, 1.0)[:, None]
    cast = cv2.GaussianBlur(cast, (0, 0), max(1.0, 0.02 * tall)) * (1.0 - 0.7 * distance)
    feet = alpha * np.clip(1.0 - (base - np.arange(height, dtype=np.float32)) / (0.04 * tall),
                           0.0, 1.0)[:, None]
    contact = cv2.GaussianBlur(feet, (0, 0), max(1.0, 0.015 * tall))
    contact = np.clip(contact * 2.5, 0.0, 1.0)
    return np.maximum(CAST_DARKNESS * cast, CONTACT_DARKNESS * contact).astype(np.float32)


def shade(background_rgb: np.ndarray, shadow: np.ndarray, opacity: float) -> np.ndarray:
    """The background (RGB uint8 H×W×3) darkened by a ``shadow_map`` at ``opacity``."""
    keep = 1.0 - opacity * shadow[:, :, None]
    return np.clip(background_rgb.astype(np.float32) * keep + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Applied:
    """Which effects a composite received, by the names of ``Effects``' fields."""

    names: tuple[str, ...] = ()

    def header(self, effects: Effects) -> str:
        """The ``X-Effects`` value: ``harmonise=0.5, light_wrap=0.3, shadow=0.6,
        shadow_angle=0`` (the angle with the shadow), or ``none``."""
        names = (*self.names, "shadow_angle") if "shadow" in self.names else self.names
        return ", ".join(f"{name}={getattr(effects, name):g}" for name in names) or "none"


NOTHING_APPLIED = Applied()


def plan(effects: Effects, *, ground: bool, picture: bool) -> Applied:
    """Which of ``effects`` apply over a background: harmonisation and light wrap need a
    picture to take the light from (a named or uploaded picture, or ``blur``), the shadow a
    ground to fall on (a picture or a colour)."""
    names = []
    if effects.harmonise > 0 and picture:
        names.append("harmonise")
    if effects.light_wrap > 0 and picture:
        names.append("light_wrap")
    if effects.shadow > 0 and ground:
        names.append("shadow")
    return Applied(tuple(names))


def apply_effects(foreground: np.ndarray, alpha: np.ndarray, background_rgb: np.ndarray,
                  effects: Effects, applied: Applied) -> tuple[np.ndarray, np.ndarray]:
    """The foreground colours and background after the effects ``applied`` names (``plan``):
    float32 H×W×3 in [0, 1] and RGB uint8 H×W×3, ready for ``composite``."""
    if "harmonise" in applied.names:
        foreground = harmonise(foreground, alpha, background_rgb, effects.harmonise)
    if "light_wrap" in applied.names:
        foreground = light_wrap(foreground, alpha, background_rgb, effects.light_wrap)
    if "shadow" in applied.names:
        background_rgb = shade(background_rgb, shadow_map(alpha, effects.shadow_angle),
                               effects.shadow)
    return foreground, background_rgb


class VideoEffects:
    """``apply_effects`` over a video's frames, in order, without flicker: the harmonisation
    gains and the row the people stand on follow their per-frame values through an exponential
    moving average (``history`` kept each frame), so noise in one frame's matte does not make
    the light or the shadow jump; the shadow's shape follows the (stabilised) alpha. One per
    video."""

    def __init__(self, effects: Effects = NO_EFFECTS, history: float = 0.9) -> None:
        self.effects, self.history = effects, history
        self._gains: np.ndarray | None = None
        self._base: float | None = None

    def __call__(self, foreground: np.ndarray, alpha: np.ndarray, background_rgb: np.ndarray,
                 applied: Applied) -> tuple[np.ndarray, np.ndarray]:
        """As ``apply_effects``, with the state of the frames before."""
        if "harmonise" in applied.names:
            gains = harmonisation_gains(foreground, alpha, background_rgb,
                                        self.effects.harmonise)
            self._gains = gains if self._gains is None else \
                self.history * self._gains + (1 - self.history) * gains
            foreground = apply_gains(foreground, self._gains)
        if "light_wrap" in applied.names:
            foreground = light_wrap(foreground, alpha, background_rgb, self.effects.light_wrap)
        if "shadow" in applied.names:
            base = ground_row(alpha)
            if base is not None and self._base is not None:
                base = self.history * self._base + (1 - self.history) * base
            self._base = base
            background_rgb = shade(background_rgb, shadow_map(alpha, self.effects.shadow_angle,
                                                              base), self.effects.shadow)
        return foreground, background_rgb
