"""A video in segments: cut by time, each matted on its own (warmed up on the frames just before
it so that the temporal smoothing starts where it would have been), then joined into one file.

Segment k writes the frames whose time t (seconds from the video's first frame) lies in
[start_k, start_k+1), half a frame of tolerance, so the segments share no frame and miss none.
It decodes from ``warm_up_frames`` frames earlier: those are matted and fed to the smoothing
only. The smoothing keeps at most ``strength`` of its history per frame, so after n warm-up
frames what a cold start changes is at most strength**n of alpha; n is the smallest with that
under half a level of 255 (28 frames for strength 0.8).

Each segment runs through the video command's engine (``background_replacement.video.engine``:
each frame within the per-frame budget of pixels, smoothed and composited the same way), one
frame at a time, so the result is that command's.

Segments are written losslessly (FFV1 in Matroska: RGB, or RGBA when transparent) beside the
output; the join decodes them in order and writes them through the command's own sink
(``video.sink.FrameSink``): the input's size, frame rate, every frame, and its audio.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import takewhile
from pathlib import Path

import av
import numpy as np

from background_replacement.background import Background
from background_replacement.video.backdrops import Timeless
from background_replacement.video.engine import FrameEngine, VideoOptions
from background_replacement.video.frame_matting import LocalMatting
from background_replacement.video.media import VideoInfo, read_frames
from background_replacement.video.sink import FrameSink
from background_replacement.video.temporal import TemporalStability

SEGMENT_CONTAINER, SEGMENT_SUFFIX, SEGMENT_CODEC = "matroska", ".mkv", "ffv1"
SEGMENT_PIX_FMT = {False: "bgr0", True: "bgra"}  # by transparency; both lossless for RGB(A)
HALF_LEVEL = 0.5 / 255


def warm_up_frames(stability: TemporalStability | None) -> int:
    """Frames before a segment that make a cold start's trace on alpha under half a level."""
    if stability is None or stability.strength == 0:
        return 0
    return math.ceil(math.log(HALF_LEVEL) / math.log(stability.strength))


@dataclass(frozen=True)
class Segment:
    """Seconds from the video's first frame: ``start`` (the first frame written), ``end`` (the
    first frame not written; None: the video's end) and ``warm_start`` (decoding begins)."""

    index: int
    start: Fraction
    end: Fraction | None
    warm_start: Fraction

    def place(self, offset: Fraction, rate: Fraction) -> int:
        """Where a frame ``offset`` seconds after the video's first lies: -1 before the segment
        (warm-up), 0 in it, 1 after it; half a frame of tolerance for rounded timestamps."""
        slack = 1 / (2 * rate)
        if offset < self.start - slack:
            return -1
        return 1 if self.end is not None and offset >= self.end - slack else 0


def plan_segments(duration: Fraction | None, rate: Fraction, seconds: Fraction,
                  warm_up: int) -> list[Segment]:
    """Cut ``duration`` into segments of about ``seconds``, their bounds on the frame grid; one
    segment when the duration is not known."""
    if duration is None or duration <= seconds:
        return [Segment(0, Fraction(0), None, Fraction(0))]
    frames_each = max(1, round(seconds * rate))
    count = math.ceil(duration * rate / frames_each)
    bounds = [Fraction(k * frames_each) / rate for k in range(count)]
    return [Segment(k, start, bounds[k + 1] if k + 1 < count else None,
                    max(Fraction(0), start - Fraction(warm_up) / rate))
            for k, start in enumerate(bounds)]


def first_frame_time(path: Path) -> Fraction:
    """The time of a video's first frame on its own clock: the zero of segment times."""
    frames = read_frames(path)
    try:
        return next(frames).time
    finally:
        frames.close()


class SegmentFile:
    """A segment's frames, lossless, written at ``path`` (a partial name the caller renames)."""

    def __init__(self, path: Path, width: int, height: int, rate: Fraction,
                 transparent: bool) -> None:
        self._container = av.open(str(path), "w", format=SEGMENT_CONTAINER)
        self._stream = self._container.add_stream(SEGMENT_CODEC, rate=rate)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = SEGMENT_PIX_FMT[transparent]
        self.frames = 0

    def write(self, pixels: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(pixels, format="rgba" if pixels.shape[2] == 4
                                           else "rgb24")
        frame = frame.reformat(format=self._stream.pix_fmt)
        frame.pts = self.frames
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()


def segment_frames(path: Path) -> Iterator[np.ndarray]:
    """A segment file's pictures, RGB uint8 H×W×3 (RGBA H×W×4 when transparent)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rgba = stream.codec_context.pix_fmt == SEGMENT_PIX_FMT[True]
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgba" if rgba else "rgb24")


class SegmentSink:
    """The engine's sink for one segment: warm-up frames are not written, the segment's are, to
    a ``SegmentFile``, their times (on the video's clock) kept; frames after it never come."""

    def __init__(self, out: SegmentFile, segment: Segment, zero: Fraction,
                 rate: Fraction) -> None:
        self.out, self.segment, self.zero, self.rate = out, segment, zero, rate
        self.times: list[Fraction] = []

    def timestamp(self, time: Fraction) -> Fraction | None:
        if self.segment.place(time - self.zero, self.rate) < 0:
            return None  # a warm-up frame
        self.times.append(time)
        return time - self.zero

    def write(self, pixels: np.ndarray) -> None:
        self.out.write(pixels)


def matte_segment(replacer, video: Path, segment: Segment, zero: Fraction, info: VideoInfo,
                  background: Background, options: VideoOptions, target: Path) -> list[Fraction]:
    """Matte one segment of ``video`` with a ``BackgroundReplacer`` through the video engine
    as ``options`` say (stability, each frame's budget of pixels, effects), and write it to
    ``target`` (a lossless segment file); returns the written frames' times on the video's
    clock."""
    out = SegmentFile(target, info.width, info.height, info.rate, background.transparent)
    sink = SegmentSink(out, segment, zero, info.rate)
    engine = FrameEngine(LocalMatting(replacer), options, Timeless(background), sink)
    frames = read_frames(video, start=segment.warm_start or None)
    try:
        engine.run(takewhile(lambda frame: segment.place(frame.time - zero, info.rate) <= 0,
                             frames))
    finally:
        frames.close()
        out.close()
    return sink.times


def join_segments(parts: list[tuple[Path, list[Fraction]]], source: Path, info: VideoInfo,
                  output: Path, transparent: bool) -> int:
    """Write the segments' frames, in order, into ``output`` through a ``FrameSink`` (the video
    command's: atomically, with the source's rate, size and audio, each frame at its own
    time); returns the frames written."""
    sink = FrameSink(output, info, source, transparent=transparent)
    try:
        for path, times in parts:
            for time, pixels in zip(times, segment_frames(path), strict=True):
                sink.timestamp(time)
                sink.write(pixels)
        sink.close()
    except BaseException:
        sink.discard()
        raise
    return sink.frames
