"""What goes behind the people in each frame of a video: a second video, or any background of
the core's grammar (a picture, a colour, the frame's own background blurred, a named background
as the service draws it, or nothing: transparent).

Every backdrop answers ``behind(time, image_rgb, alpha)`` with RGB uint8 H×W×3 at the output's
size, or ``None`` once a background video that ends the output (``trim``) has run out. Frames
are asked for in order of time.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from background_replacement.background import Background, file_named, parse_background
from background_replacement.compositing import cover
from background_replacement.images import IMAGE_SUFFIXES
from background_replacement.video.media import Frame, VideoError, probe, read_frames

BACKGROUND_ENDS = ("loop", "freeze", "trim")


class Backdrop(Protocol):
    """The background of a video, frame by frame."""

    transparent: bool

    def behind(self, time: Fraction, image_rgb: np.ndarray,
               alpha: np.ndarray) -> np.ndarray | None:
        """RGB uint8 H×W×3 behind the people at output second ``time``; None: it has ended."""
        ...


@dataclass(frozen=True)
class Timeless:
    """A background of the core's grammar, the same at every time."""

    background: Background

    @property
    def transparent(self) -> bool:
        return self.background.transparent

    def behind(self, time: Fraction, image_rgb: np.ndarray,
               alpha: np.ndarray) -> np.ndarray | None:
        return self.background.behind(image_rgb, alpha)


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


def open_backdrop(spec: str, width: int, height: int, *, library: Mapping[str, np.ndarray],
                  end: str = "loop",
                  foreground_rate: Fraction | None = None) -> Backdrop:
    """The backdrop that ``spec`` names: the path of a video, or anything the core's background
    grammar reads (names from ``library``: the core's, or the service's that
    ``client.service_matting.ServiceBackgrounds`` lists); ``VideoError`` when it names nothing
    usable."""
    try:
        path = file_named(spec)
        if path is not None and path.suffix.lower() not in IMAGE_SUFFIXES:
            return VideoBackdrop(path, width, height, end=end, foreground_rate=foreground_rate)
        return Timeless(parse_background(spec, library, files=True))
    except ValueError as exc:
        raise VideoError(str(exc)) from None
