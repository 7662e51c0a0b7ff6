"""Pure geometry of remove.bg's output options: size cap, region of interest, crop margins,
subject scale and position.

Lengths are ``(value, unit)`` with unit ``"px"`` or ``"%"``; boxes are ``Box(left, top, width,
height)`` in whole pixels. Impossible input raises ``GeometryError`` carrying remove.bg's error
code.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class GeometryError(ValueError):
    """Input no image can satisfy; ``code`` is remove.bg's name for the error."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Length(NamedTuple):
    value: float
    unit: str  # "px" or "%"


class Box(NamedTuple):
    left: int
    top: int
    width: int
    height: int


class Margins(NamedTuple):
    top: Length
    right: Length
    bottom: Length
    left: Length


NO_MARGINS = Margins(*(Length(0.0, "px"),) * 4)


def capped_size(width: int, height: int, max_pixels: float | None) -> tuple[int, int]:
    """The largest (width, height) with the same aspect ratio and at most ``max_pixels`` pixels,
    never larger than the input; ``None`` keeps the input size."""
    if max_pixels is None or width * height <= max_pixels:
        return width, height
    factor = math.sqrt(max_pixels / (width * height))
    capped_width, capped_height = math.floor(width * factor), math.floor(height * factor)
    # Each side floored alone would bend a thin picture's aspect (10001×25 → 10000×24): the
    # longer side follows the shorter one's rounding.
    if width >= height:
        capped_width = min(capped_width, round(capped_height * width / height))
    else:
        capped_height = min(capped_height, round(capped_width * height / width))
    return max(1, capped_width), max(1, capped_height)


def _pixels(length: Length, extent: float) -> float:
    return length.value * extent / 100.0 if length.unit == "%" else length.value


def roi_box(corners: tuple[Length, Length, Length, Length], width: int, height: int,
            factor: float = 1.0) -> Box:
    """The region ``x1 y1 x2 y2`` of an image ``width``×``height``; pixel lengths are given in
    the uploaded image and multiplied by ``factor`` (the output's size over the upload's)."""
    x1, y1, x2, y2 = (
        _pixels(length, extent) * (factor if length.unit == "px" else 1.0)
        for length, extent in zip(corners, (width, height, width, height), strict=True))
    eps = 1e-6
    if min(x1, y1) < -eps or x2 > width * (1 + eps) + eps or y2 > height * (1 + eps) + eps:
        raise GeometryError("roi_exceeds_bounds",
                            "The roi reaches outside the image.")
    left, top = math.floor(x1 + eps), math.floor(y1 + eps)
    right, bottom = min(width, math.ceil(x2 - eps)), min(height, math.ceil(y2 - eps))
    if right <= left or bottom <= top:
        raise GeometryError("roi_region_empty", "The roi holds no pixel.")
    return Box(left, top, right - left, bottom - top)


def foreground_box(alpha: np.ndarray) -> Box | None:
    """The smallest box holding every pixel of ``alpha`` (uint8 H×W) above 0; ``None`` when
    there is none."""
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(alpha.any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1),
               int(rows[-1] - rows[0] + 1))


def margin_pixels(margins: Margins, subject: Box) -> tuple[int, int, int, int]:
    """(top, right, bottom, left) in pixels; percentages are of the subject's height (top,
    bottom) or width (left, right)."""
    extents = (subject.height, subject.width, subject.height, subject.width)
    return tuple(round(_pixels(length, extent))  # type: ignore[return-value]
                 for length, extent in zip(margins, extents, strict=True))


def inner_margins(margins: tuple[int, int, int, int], subject: Box, width: int,
                  height: int) -> tuple[int, int, int, int]:
    """(top, right, bottom, left) ``margins`` with 0 on each side where the subject touches the
    image's edge, as remove.bg does: a person cut off by the photo's bottom stays cut off there
    instead of floating above a band of background."""
    touches = (subject.top == 0, subject.left + subject.width >= width,
               subject.top + subject.height >= height, subject.left == 0)
    return tuple(0 if edge else margin  # type: ignore[return-value]
                 for margin, edge in zip(margins, touches, strict=True))


class Layout(NamedTuple):
    """The result canvas and where the subject's box lands on it (scaled to its size)."""

    width: int
    height: int
    subject: Box


def layout(width: int, height: int, subject: Box, *, crop: bool, margins: Margins = NO_MARGINS,
           scale: float | None = None, position: tuple[float, float] | None = None) -> Layout:
    """Where the subject goes.

    Args:
        width, height: the matted image's size.
        subject: the foreground's box in that image.
        crop: the canvas is the subject's box plus ``margins`` (none on a side where the
            subject touches the image's edge), else the image's size.
        scale: the subject's share (0.1 to 1) of the canvas, fitted on its tighter side;
            ``None`` keeps its size.
        position: horizontal and vertical place of the subject, 0 (left/top) to 1 (right/
            bottom) of the free room; ``None`` keeps it where it was, or centres it when
            ``scale`` is given.
    """
    if crop:
        top, right, bottom, left = inner_margins(margin_pixels(margins, subject), subject,
                                                 width, height)
        canvas_w, canvas_h = subject.width + left + right, subject.height + top + bottom
        original = (left, top)
    else:
        canvas_w, canvas_h = width, height
        original = (subject.left, subject.top)
    size_w, size_h = subject.width, subject.height
    if scale is not None:
        factor = scale * min(canvas_w / subject.width, canvas_h / subject.height)
        size_w = min(canvas_w, max(1, round(subject.width * factor)))
        size_h = min(canvas_h, max(1, round(subject.height * factor)))
        if position is None:
            position = (0.5, 0.5)
    if position is None:
        return Layout(canvas_w, canvas_h, Box(*original, size_w, size_h))
    left = round((canvas_w - size_w) * position[0])
    top = round((canvas_h - size_h) * position[1])
    return Layout(canvas_w, canvas_h, Box(left, top, size_w, size_h))
