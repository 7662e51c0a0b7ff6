"""What goes behind the people in each frame of a video: a video, a picture, a colour, the
frame's own background blurred, a named background, or nothing (transparent).

Every backdrop answers ``behind(time, image_rgb, alpha)`` with RGB uint8 H×W×3 at the output's
size, or ``None`` once a background video that ends the output (``trim``) has run out. Frames
are asked for in order of time.
"""

from __future__ import annotations

import io
from collections.abc import Generator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps

from client.media import Frame, VideoError, probe, read_frames
from client.remove_background import IMAGE_SUFFIXES, MattingClient
from matting_api.compositing import blurred_background, cover, parse_colour, solid

BACKGROUND_ENDS = ("loop", "freeze", "trim")


class Backdrop(Protocol):
    """The background of a video, frame by frame."""

    transparent: bool

    def behind(self, time: Fraction, image_rgb: np.ndarray,
               alpha: np.ndarray) -> np.ndarray | None:
        """RGB uint8 H×W×3 behind the people at output second ``time``; None: it has ended."""
        ...


@dataclass
class Transparent:
    """No background: the output keeps the matte as its alpha channel."""

    transparent: bool = True

    def behind(self, time: Fraction, image_rgb: np.ndarray,
               alpha: np.ndarray) -> np.ndarray | None:
        raise TypeError("a transparent backdrop has no pixels")


@dataclass
class Still:
    """One picture behind every frame (a colour, an image file, a named background)."""

    pixels: np.ndarray  # RGB uint8 H×W×3 at the output's size
    transparent: bool = False

    def behind(self, time: Fraction, image_rgb: np.ndarray,
               alpha: np.ndarray) -> np.ndarray | None:
        return self.pixels


@dataclass
class Blur:
    """Each frame's own background, blurred (computed here, from the smoothed matte)."""

    transparent: bool = False

    def behind(self, time: Fraction, image_rgb: np.ndarray,
               alpha: np.ndarray) -> np.ndarray | None:
        return blurred_background(image_rgb, alpha)


class VideoBackdrop:
    """A second video, frame for frame by time, scaled to cover and centre-cropped.

    At output second t it shows its frame displayed at t (half a frame of tolerance for
    timestamps rounded to milliseconds). When it is shorter than the foreground, ``end`` says
    what happens: ``loop`` from its start, ``freeze`` on its last frame, or ``trim`` (the
    output stops).
    """

    transparent = False

    def __init__(self, path: Path, width: int, height: int, *, end: str = "loop",
                 foreground_rate: Fraction | None = None) -> None:
        if end not in BACKGROUND_ENDS:
            raise ValueError(f"end must be one of {', '.join(BACKGROUND_ENDS)}")
        self.path, self.width, self.height, self.end = Path(path), width, height, end
        info = probe(self.path)
        self.rate, self.duration = info.rate, info.duration
        self._slack = 1 / (2 * max(info.rate, foreground_rate or info.rate))
        self._offset = Fraction(0)  # output second at which the current pass started
        self._restart()

    def _restart(self) -> None:
        """Read from the first frame again."""
        if getattr(self, "_frames", None) is not None:
            self._frames.close()
        self._frames: Generator[Frame, None, None] = read_frames(self.path)
        first = next(self._frames, None)
        if first is None:
            raise VideoError(f"{self.path} has no frames")
        self._current, self._zero = first, first.time
        self._next = next(self._frames, None)
        self._covered: np.ndarray | None = None

    def behind(self, time: Fraction, image_rgb: np.ndarray,
               alpha: np.ndarray) -> np.ndarray | None:
        while True:
            local = time - self._offset + self._zero + self._slack
            while self._next is not None and self._next.time <= local:
                self._current, self._covered = self._next, None
                self._next = next(self._frames, None)
            ends_at = self._current.time + 1 / self.rate
            if self._next is not None or local < ends_at or self.end == "freeze":
                break
            if self.end == "trim":
                return None
            self._offset += ends_at - self._zero  # loop: start the next pass
            self._restart()
        if self._covered is None:
            self._covered = cover(self._current.rgb, self.height, self.width)
        return self._covered


def _blank_png(width: int, height: int, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 0).save(buffer, format="PNG")
    return buffer.getvalue()


def named_background(client: MattingClient, name: str, width: int, height: int) -> np.ndarray:
    """A background the matting service offers by name, as it renders it at width×height.

    Asks the service itself, so the names and pictures are whatever it serves: a blank frame
    with an all-background trimap (no segmentation, nobody found) and ``if_no_person=empty``
    comes back as the background alone, covered and centre-cropped by the service.
    """
    answer = client.matte(_blank_png(width, height, "RGB"), background=name, output="composite",
                          fmt="png", if_no_person="empty",
                          trimap=_blank_png(width, height, "L"))
    with Image.open(io.BytesIO(answer)) as image:
        return np.asarray(image.convert("RGB"))


def load_picture(path: Path) -> np.ndarray:
    """An image file as RGB uint8 H×W×3, EXIF orientation applied."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def open_backdrop(spec: str, width: int, height: int, *, client: MattingClient,
                  end: str = "loop", foreground_rate: Fraction | None = None) -> Backdrop:
    """The backdrop that ``spec`` names: ``transparent``, ``blur``, ``#rrggbb``, the path of a
    video or an image, or the name of one of the service's backgrounds."""
    if spec == "transparent":
        return Transparent()
    if spec == "blur":
        return Blur()
    if spec.startswith("#"):
        return Still(solid(parse_colour(spec), height, width))
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return Still(cover(load_picture(path), height, width))
        return VideoBackdrop(path, width, height, end=end, foreground_rate=foreground_rate)
    if "/" in spec or "\\" in spec or "." in spec:
        raise VideoError(f"background {spec!r}: no such file")
    return Still(named_background(client, spec, width, height))
