"""The video engine behind ``remove-background-video``, the notebook and batch: decode a film,
matte every frame, smooth alpha over time, composite it over the matching frame of a backdrop
and hand the pictures to a sink, in order.

Frames are decoded with PyAV and matted (``video.frame_matting.matte_frame``: within the
per-frame budget of pixels, by a ``FrameMatting``; ``if_no_person=empty``, so a frame with
nobody in it has alpha 0 and becomes the backdrop's frame), several at a time from a thread
pool, and taken back in order (``run_frames``). Alpha is smoothed over time
(``video.temporal``) and composited (``render``): alpha·F + (1 − alpha)·background, in float,
rounded once. The sink is a film (``video.sink.FrameSink``, which ``replace_in_film`` drives for
the video command) or one of batch's segments (``batch.video``), which joins them through a
``FrameSink`` again.
"""

from __future__ import annotations

import time as clock
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from background_replacement.background import DEFAULT_BACKGROUND
from background_replacement.compositing import composite, cutout
from background_replacement.effects import NOTHING_APPLIED, Applied, VideoEffects, plan
from background_replacement.params import DEFAULT_PARAMS, NO_EFFECTS, Effects, TrimapParams
from background_replacement.pipeline import effects_over
from background_replacement.timing import StageTimer
from background_replacement.video.backdrops import (
    BACKGROUND_ENDS,
    Backdrop,
    Timeless,
    VideoBackdrop,
    open_backdrop,
)
from background_replacement.video.frame_matting import (
    DEFAULT_SOLVE_PIXELS,
    FrameMatting,
    Matted,
    matte_frame,
)
from background_replacement.video.media import (
    Frame,
    VideoError,
    VideoInfo,
    output_format,
    probe,
    read_frames,
)
from background_replacement.video.sink import FrameSink
from background_replacement.video.temporal import AlphaStabilizer, TemporalStability

DEFAULT_STABILITY = TemporalStability()


@dataclass(frozen=True)
class VideoOptions:
    """How a video is made. ``background`` as for the command (``None``: green, or transparent
    for .webm and .mov); ``background_end``: what a shorter background video does (loop, freeze,
    trim); ``stability=None`` turns temporal stability off; ``start``, ``duration`` (seconds)
    and ``max_frames`` choose a part; ``in_flight`` frames are matted at once (None: as many as
    the matting takes, ``FrameMatting.max_in_flight``), each on at most
    about ``solve_pixels`` pixels (0: at full size) with ``params``; ``effects`` as
    ``/matte``'s, held steady from frame to frame (``VideoEffects``)."""

    background: str | None = None
    background_end: str = "loop"
    stability: TemporalStability | None = DEFAULT_STABILITY
    in_flight: int | None = None
    start: float | str | Fraction | None = None
    duration: float | str | Fraction | None = None
    max_frames: int | None = None
    params: TrimapParams = DEFAULT_PARAMS
    solve_pixels: int = DEFAULT_SOLVE_PIXELS
    effects: Effects = NO_EFFECTS

    def __post_init__(self) -> None:
        if self.background_end not in BACKGROUND_ENDS:
            raise ValueError(f"background_end must be one of {', '.join(BACKGROUND_ENDS)}")
        if self.in_flight is not None and self.in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        if self.solve_pixels < 0:
            raise ValueError("solve_pixels must be 0 or more")


@dataclass(frozen=True)
class FrameResult:
    """One finished frame, for ``on_frame``: ``time`` in output seconds, ``pixels`` as written
    (RGB, or RGBA when transparent)."""

    index: int
    time: Fraction
    image_rgb: np.ndarray
    raw_alpha: np.ndarray  # as matted, before temporal stability
    alpha: np.ndarray  # after temporal stability
    people_count: int | None
    pixels: np.ndarray


@dataclass(frozen=True)
class VideoResult:
    """What ``replace_in_film`` wrote."""

    path: Path
    frames: int
    width: int
    height: int
    rate: Fraction
    transparent: bool
    audio: str  # "none", "copied (aac)" or "encoded (aac → opus)"
    seconds: float  # wall-clock time of the whole job
    # Seconds spent in each stage, summed over the frames (the matting stages in the pool's
    # threads, the others in the caller's; "wait" is the caller waiting for a matte).
    stages: dict[str, float] = field(default_factory=dict)


class Sink(Protocol):
    """Where finished pictures go, in order: a film (``FrameSink``) or a batch segment."""

    def timestamp(self, time: Fraction) -> Fraction | None:
        """The output second of the next frame, shown at ``time`` on the source's clock; None
        when it is not to be written (it only warms up the smoothing)."""
        ...

    def write(self, pixels: np.ndarray) -> None:
        """Write the frame last timestamped."""
        ...


def applied_over(effects: Effects, backdrop: Backdrop) -> Applied:
    """Which ``effects`` a video's frames get over ``backdrop``: as ``/matte`` over the same
    background; a background video is a picture with a ground."""
    if isinstance(backdrop, VideoBackdrop):
        return plan(effects, ground=True, picture=True)
    if isinstance(backdrop, Timeless):
        return effects_over(effects, "composite", backdrop.background)
    return NOTHING_APPLIED


def render(matted: Matted, alpha: np.ndarray, image_rgb: np.ndarray, backdrop: Backdrop,
           time: Fraction, look: tuple[VideoEffects, Applied] | None = None) -> np.ndarray | None:
    """The output picture: RGBA (F, alpha) when transparent, else F over the backdrop's frame,
    with the effects ``look`` applies (held steady from frame to frame); None when the
    backdrop has ended."""
    if backdrop.transparent:
        return cutout(matted.foreground, alpha)
    behind = backdrop.behind(time, image_rgb, alpha)
    if behind is None:
        return None
    foreground = matted.foreground
    if look is not None and look[1].names:
        foreground, behind = look[0](foreground, alpha, behind, look[1])
    return composite(foreground, alpha, behind)


def seconds(value: float | str | Fraction | None) -> Fraction | None:
    """A time given by a user (``1.5``, ``"1.5"``, ``Fraction(3, 2)``) as an exact Fraction."""
    return None if value is None else Fraction(str(value))


def expected_frames(info: VideoInfo, options: VideoOptions) -> int | None:
    """How many frames the job will write, as far as can be told before decoding."""
    start, duration = seconds(options.start), seconds(options.duration)
    if duration is not None:
        total = round(duration * info.rate)
    elif info.frames:
        total = info.frames - (round(start * info.rate) if start else 0)
    elif info.duration is not None:
        total = round((info.duration - (start or 0)) * info.rate)
    else:
        total = None
    if options.max_frames is not None:
        total = options.max_frames if total is None else min(total, options.max_frames)
    return None if total is None else max(0, total)


class FrameEngine(StageTimer):
    """Frames → matte (``options.in_flight`` at once) → smooth → render → ``sink``, in the
    input's order; its stages' seconds add up in ``stages``."""

    def __init__(self, matting: FrameMatting, options: VideoOptions, backdrop: Backdrop,
                 sink: Sink, on_frame: Callable[[FrameResult], None] | None = None) -> None:
        super().__init__()
        self.matting, self.options, self.backdrop, self.sink = matting, options, backdrop, sink
        self.on_frame = on_frame
        self.stabilizer = AlphaStabilizer(options.stability) if options.stability else None
        self.look = (VideoEffects(options.effects.validate()),
                     applied_over(options.effects, backdrop))

    def _matted(self, image_rgb: np.ndarray) -> tuple[Matted, dict[str, float]]:
        """One frame's matte and the seconds its stages took (a pool thread's work)."""
        stages: dict[str, float] = {}
        return matte_frame(self.matting, image_rgb, solve_pixels=self.options.solve_pixels,
                           params=self.options.params, stages=stages), stages

    def run(self, frames: Iterable[Frame]) -> None:
        """Matte ``frames`` and finish them in order, until they or the backdrop end."""
        decoded = iter(frames)
        in_flight = self.options.in_flight or self.matting.max_in_flight()
        pool = ThreadPoolExecutor(in_flight, thread_name_prefix="matte")
        try:
            pending: deque[tuple[Frame, Future[tuple[Matted, dict[str, float]]]]] = deque()
            while True:
                with self.stage("decode"):
                    frame = next(decoded, None)
                if frame is None:
                    break
                pending.append((frame, pool.submit(self._matted, frame.rgb)))
                if len(pending) >= in_flight and not self.finish(*pending.popleft()):
                    return  # the backdrop has ended: so does the output
            while pending and self.finish(*pending.popleft()):
                pass
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            close = getattr(decoded, "close", None)
            if close is not None:
                close()  # the decoder, when the output stopped before the frames did

    def finish(self, frame: Frame, future: Future[tuple[Matted, dict[str, float]]]) -> bool:
        """Smooth, render and write one frame; False when the backdrop has ended."""
        with self.stage("wait"):
            matted, stages = future.result()
        for name, spent in stages.items():
            self.stages[name] = self.stages.get(name, 0.0) + spent
        alpha = matted.alpha
        if self.stabilizer is not None:  # nobody found (people 0): the smoothing restarts
            with self.stage("stabilize"):
                alpha = self.stabilizer(frame.rgb, matted.alpha, matted.people_count)
        time = self.sink.timestamp(frame.time)
        if time is None:
            return True  # a warm-up frame
        with self.stage("composite"):
            pixels = render(matted, alpha, frame.rgb, self.backdrop, time, self.look)
        if pixels is None:
            return False
        with self.stage("encode"):
            self.sink.write(pixels)
        if self.on_frame is not None:
            self.on_frame(FrameResult(frame.index, time, frame.rgb, matted.alpha, alpha,
                                      matted.people_count, pixels))
        return True


@dataclass(frozen=True)
class Part:
    """The part of the foreground to process (seconds from its first frame), and whether the
    output may stop before the foreground's end (then the audio is cut to the picture)."""

    start: Fraction | None
    end: Fraction | None
    max_frames: int | None
    trimmed: bool

    @classmethod
    def of(cls, info: VideoInfo, backdrop: Backdrop, options: VideoOptions) -> Part:
        start, duration = seconds(options.start), seconds(options.duration)
        end = None if duration is None else (start or 0) + duration
        trimmed = bool(start or duration is not None or options.max_frames is not None
                       or _background_may_end_first(backdrop, options.background_end, info))
        return cls(start, end, options.max_frames, trimmed)

    def frames(self, path: Path) -> Iterator[Frame]:
        """The part's frames, decoded (the file opens on the first)."""
        decoded = read_frames(path, start=self.start, end=self.end)
        try:
            for count, frame in enumerate(decoded):
                if self.max_frames is not None and count >= self.max_frames:
                    return
                yield frame
        finally:
            decoded.close()


def _background_may_end_first(backdrop: Backdrop, background_end: str,
                               info: VideoInfo) -> bool:
    """Whether a background video with ``trim`` may stop the output before the foreground
    ends."""
    if background_end != "trim" or not isinstance(backdrop, VideoBackdrop):
        return False
    return backdrop.duration is None or info.duration is None or \
        backdrop.duration < info.duration


def replace_in_film(foreground: Path, output: Path, matting: FrameMatting,
                    options: VideoOptions | None = None,
                    on_frame: Callable[[FrameResult], None] | None = None) -> VideoResult:
    """Composite the people of ``foreground`` over ``options.background`` into ``output``,
    keeping its displayed size, frame rate, frame count (of the part chosen) and audio; frames
    matted by ``matting``. Raises ``VideoError`` (or the matting's errors); on any exception,
    including ``KeyboardInterrupt``, nothing is left under ``output``'s name or beside it."""
    began = clock.perf_counter()
    if output.resolve() == foreground.resolve():
        raise VideoError(f"{output} is the foreground itself; write the result elsewhere")
    options = options or VideoOptions()
    info, fmt = probe(foreground), output_format(output)
    spec = options.background or ("transparent" if fmt.alpha_pix_fmt else DEFAULT_BACKGROUND)
    backdrop = open_backdrop(spec, info.width, info.height,
                             library=matting.backgrounds(info.width, info.height),
                             end=options.background_end, foreground_rate=info.rate)
    part = Part.of(info, backdrop, options)
    sink = FrameSink(output, info, foreground, transparent=backdrop.transparent,
                     trimmed=part.trimmed)
    engine = FrameEngine(matting, options, backdrop, sink, on_frame)
    try:
        engine.run(part.frames(foreground))
        if sink.frames == 0:
            raise VideoError(f"{foreground} has no frames in the chosen part")
        sink.close()
    except BaseException:
        sink.discard()
        raise
    return VideoResult(output, sink.frames, info.width, info.height, info.rate,
                       backdrop.transparent, sink.audio(), clock.perf_counter() - began,
                       engine.stages)
