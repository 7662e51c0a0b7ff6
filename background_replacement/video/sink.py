"""The one place finished pictures become a film: ``FrameSink`` owns the ``VideoWriter``, gives
each frame its output timestamp and joins the foreground's sound. The video command writes its
frames through it as they are made; batch writes its segments' frames through it when it joins
them, so both time and sound a film the same way."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from background_replacement.video.media import (
    VideoInfo,
    VideoWriter,
    audio_is_copied,
    output_format,
    output_pts,
)


class FrameSink:
    """Writes pictures to ``output`` (atomically, by ``VideoWriter``) at ``info``'s size and
    rate, with ``source``'s audio when it has some: copied when the whole video is written and
    the container takes its codec, otherwise encoded and, when ``trimmed`` (only a part of the
    video), cut where the picture ends.

    For each frame, in order: ``timestamp`` (its time on the source's clock → its output
    second), then ``write``. Then ``close``, or ``discard`` on failure."""

    def __init__(self, output: Path, info: VideoInfo, source: Path, *, transparent: bool,
                 trimmed: bool = False) -> None:
        self.rate, self.trimmed, self.codec = info.rate, trimmed, info.audio_codec
        self.copy_audio = audio_is_copied(output_format(output), info.audio_codec,
                                          whole=not trimmed)
        self.writer = VideoWriter(output, width=info.width, height=info.height, rate=info.rate,
                                  transparent=transparent,
                                  audio_source=source if info.audio_codec else None,
                                  copy_audio=self.copy_audio)  # cleans up if it fails
        self.origin: Fraction | None = None  # the first frame's time: output time 0
        self.pts: int | None = None  # the last frame timestamped, in frames
        self.last_pts = -1  # the last frame written

    @property
    def frames(self) -> int:
        return self.writer.frames

    def timestamp(self, time: Fraction) -> Fraction:
        """The output second of the next frame, shown at ``time`` on the source's clock. The
        first one sets the origin, and starts the audio there (or at the audio's own start, if
        earlier, when the whole video is written, to keep their offset)."""
        if self.origin is None:
            self.origin = time
            audio = self.writer.audio
            if audio is not None:
                if not self.trimmed:
                    self.origin = min(self.origin, audio.start_time)
                audio.begin(self.origin)
        self.pts = output_pts(time, self.origin, self.rate, self.pts)
        return Fraction(self.pts) / self.rate

    def write(self, pixels: np.ndarray) -> None:
        """Write the frame last timestamped, and the sound up to its time."""
        assert self.pts is not None, "timestamp a frame before writing it"
        self.writer.write(pixels, self.pts)
        if self.writer.audio is not None:
            self.writer.audio.write_until(Fraction(self.pts) / self.rate)
        self.last_pts = self.pts

    def close(self) -> None:
        """Finish the film under its name: the sound cut where the picture ends when only a
        part was taken, otherwise all of it."""
        self.writer.close(end=Fraction(self.last_pts + 1) / self.rate if self.trimmed else None)

    def discard(self) -> None:
        """Leave nothing behind."""
        self.writer.discard()

    def audio(self) -> str:
        """What became of the sound: "none", "copied (aac)" or "encoded (aac → opus)"."""
        if self.writer.audio is None:
            return "none"
        if self.copy_audio:
            return f"copied ({self.codec})"
        return f"encoded ({self.codec} → {self.writer.audio.codec})"
