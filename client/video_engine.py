"""The video engine behind ``remove-background-video`` and the notebook: decode a film, matte
every frame, smooth alpha over time, composite it over the matching frame of a background and
write the frames as a film again, keeping size, frame rate, frame count and sound.

Frames are decoded with PyAV and matted (``client.frame_matting``), several at a time from a
thread pool, and taken back in order: each is shrunk to the per-frame budget of pixels, sent as
PNG to ``POST /matte`` for ``output=cutout`` (the people's colours F and alpha, a PNG back;
``if_no_person=empty``, so a frame with nobody in it has alpha 0 and becomes the background
frame), or matted by the core in this process (``LocalMatting``), and brought back to the
frame's size. Alpha is smoothed over time (``client.temporal``) and composited here:
alpha·F + (1 − alpha)·background, in float, rounded once.
"""

from __future__ import annotations

import dataclasses
import threading
import time as clock
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import islice
from pathlib import Path

import numpy as np
from background_replacement.client.backdrops import (
    BACKGROUND_ENDS,
    Backdrop,
    Timeless,
    VideoBackdrop,
    open_backdrop,
)
from background_replacement.client.frame_matting import (
    DEFAULT_SOLVE_PIXELS,
    FrameMatting,
    Matted,
    ServiceMatting,
    matte_frame,
)
from background_replacement.client.matting_client import DEFAULT_SERVER, MattingClient
from background_replacement.client.media import (
    Frame,
    VideoError,
    VideoInfo,
    VideoWriter,
    audio_is_copied,
    output_format,
    output_pts,
    probe,
    read_frames,
)
from background_replacement.client.temporal import AlphaStabilizer, TemporalStability
from tqdm.auto import tqdm

from background_replacement.background import DEFAULT_BACKGROUND
from background_replacement.compositing import composite, cutout
from background_replacement.effects import NOTHING_APPLIED, Applied, VideoEffects, plan
from background_replacement.params import DEFAULT_PARAMS, NO_EFFECTS, Effects, TrimapParams
from background_replacement.pipeline import effects_over
from background_replacement.timing import StageTimer

DEFAULT_IN_FLIGHT = 4  # the matting service works on 4 requests at once by default
DEFAULT_STABILITY = TemporalStability()


@dataclass(frozen=True)
class FrameResult:
    """One finished frame, for ``on_frame``: ``time`` in output seconds, ``pixels`` as written
    (RGB, or RGBA when transparent)."""

    index: int
    time: Fraction
    image_rgb: np.ndarray
    raw_alpha: np.ndarray  # as matted, before temporal stability
    alpha: np.ndarray  # after temporal stability
    people: int | None
    pixels: np.ndarray


@dataclass(frozen=True)
class VideoResult:
    """What ``replace_background`` wrote."""

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


def expected_frames(info: VideoInfo, start: Fraction | None, duration: Fraction | None,
                    max_frames: int | None) -> int | None:
    """How many frames the job will write, as far as can be told before decoding."""
    if duration is not None:
        total = round(duration * info.rate)
    elif info.frames:
        total = info.frames - (round(start * info.rate) if start else 0)
    elif info.duration is not None:
        total = round((info.duration - (start or 0)) * info.rate)
    else:
        total = None
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    return None if total is None else max(0, total)


def replace_background(foreground: str | Path, output: str | Path, *,
                       background: str | None = None, server: str = DEFAULT_SERVER,
                       background_end: str = "loop",
                       stability: TemporalStability | None = DEFAULT_STABILITY,
                       in_flight: int = DEFAULT_IN_FLIGHT,
                       start: float | str | Fraction | None = None,
                       duration: float | str | Fraction | None = None,
                       max_frames: int | None = None, progress: bool = True,
                       on_frame: Callable[[FrameResult], None] | None = None,
                       client: MattingClient | None = None,
                       params: TrimapParams = DEFAULT_PARAMS,
                       matting: FrameMatting | None = None,
                       solve_pixels: int = DEFAULT_SOLVE_PIXELS,
                       effects: Effects = NO_EFFECTS) -> VideoResult:
    """Composite the people of ``foreground`` over ``background`` into ``output``.

    The output keeps the foreground's displayed size, frame rate, frame count (of the part
    chosen with ``start``, ``duration`` and ``max_frames``) and audio. ``background`` is as for
    the command (``None``: green, or transparent for .webm and .mov); ``background_end`` says
    what a shorter background video does (loop, freeze, trim). ``stability=None`` turns
    temporal stability off. ``on_frame`` sees every finished frame, in order. Frames are
    matted by the service at ``server`` (or through ``client``), or by ``matting``
    (``LocalMatting`` runs the core in this process), ``in_flight`` at once, each on at most
    about ``solve_pixels`` pixels (0: at full size). ``effects`` as ``/matte``'s, held steady
    from frame to frame (``VideoEffects``). Raises ``MattingError`` or
    ``VideoError``; on any exception, including ``KeyboardInterrupt``, nothing is left under
    ``output``'s name or beside it.
    """
    began = clock.perf_counter()
    foreground, output = Path(foreground), Path(output)
    _check_arguments(foreground, output, background_end, in_flight)
    info, fmt = probe(foreground), output_format(output)
    stop = threading.Event()  # set when the job fails or is interrupted: no retry waits then
    if matting is None:
        matting = ServiceMatting(dataclasses.replace(client or MattingClient(server), stop=stop))
    spec = background or ("transparent" if fmt.alpha_pix_fmt else DEFAULT_BACKGROUND)
    backdrop = open_backdrop(spec, info.width, info.height,
                             library=matting.backgrounds(info.width, info.height),
                             end=background_end, foreground_rate=info.rate)
    part = _choose_part(info, backdrop, background_end, start, duration, max_frames)
    copy_audio = audio_is_copied(fmt, info.audio_codec, whole=not part.trimmed)
    writer = VideoWriter(output, width=info.width, height=info.height, rate=info.rate,
                         transparent=backdrop.transparent,
                         audio_source=foreground if info.audio_codec else None,
                         copy_audio=copy_audio)  # cleans up after itself if it fails
    job = _Job(writer, backdrop, AlphaStabilizer(stability) if stability else None, on_frame,
               info.rate, part.trimmed)
    job.look = (VideoEffects(effects.validate()), applied_over(effects, backdrop))
    bar = _progress_bar(progress, expected_frames(info, part.start, part.duration, max_frames),
                        output.name)
    try:
        _matte_in_order(job, foreground, part, matting, (solve_pixels, params), in_flight, bar)
        if writer.frames == 0:
            raise VideoError(f"{foreground} has no frames in the chosen part")
        # Cut the audio where the picture ends when only a part was taken; otherwise keep all.
        writer.close(end=Fraction(job.last_pts + 1) / info.rate if part.trimmed else None)
    except BaseException:
        stop.set()
        writer.discard()
        raise
    finally:
        bar.close()
    audio = "none" if writer.audio is None else f"copied ({info.audio_codec})" if copy_audio \
        else f"encoded ({info.audio_codec} → {writer.audio.codec})"
    return VideoResult(output, writer.frames, info.width, info.height, info.rate,
                       backdrop.transparent, audio, clock.perf_counter() - began, job.stages)


def _check_arguments(foreground: Path, output: Path, background_end: str,
                     in_flight: int) -> None:
    """Refuse what cannot work before anything is opened."""
    if background_end not in BACKGROUND_ENDS:
        raise ValueError(f"background_end must be one of {', '.join(BACKGROUND_ENDS)}")
    if in_flight < 1:
        raise ValueError("in_flight must be at least 1")
    if output.resolve() == foreground.resolve():
        raise VideoError(f"{output} is the foreground itself; write the result elsewhere")


@dataclass(frozen=True)
class _Part:
    """The part of the foreground to process (seconds from its first frame), and whether the
    output may stop before the foreground's end (then the audio is cut to the picture)."""

    start: Fraction | None
    duration: Fraction | None
    end: Fraction | None
    max_frames: int | None
    trimmed: bool


def _choose_part(info: VideoInfo, backdrop: Backdrop, background_end: str,
                 start: float | str | Fraction | None, duration: float | str | Fraction | None,
                 max_frames: int | None) -> _Part:
    start_s, duration_s = seconds(start), seconds(duration)
    end_s = None if duration_s is None else (start_s or 0) + duration_s
    trimmed = bool(start_s or duration_s is not None or max_frames is not None
                   or _background_may_end_first(backdrop, background_end, info))
    return _Part(start_s, duration_s, end_s, max_frames, trimmed)


def _background_may_end_first(backdrop: Backdrop, background_end: str,
                               info: VideoInfo) -> bool:
    """Whether a background video with ``trim`` may stop the output before the foreground
    ends."""
    if background_end != "trim" or not isinstance(backdrop, VideoBackdrop):
        return False
    return backdrop.duration is None or info.duration is None or \
        backdrop.duration < info.duration


def _matted(matting: FrameMatting, image_rgb: np.ndarray,
            budget: tuple[int, TrimapParams]) -> tuple[Matted, dict[str, float]]:
    """One frame's matte and the seconds its stages took (a pool thread's work)."""
    stages: dict[str, float] = {}
    solve_pixels, params = budget
    return matte_frame(matting, image_rgb, solve_pixels=solve_pixels, params=params,
                       stages=stages), stages


def _matte_in_order(job: _Job, foreground: Path, part: _Part, matting: FrameMatting,
                    budget: tuple[int, TrimapParams], in_flight: int, bar: tqdm) -> None:
    """Decode the part's frames and matte them, ``in_flight`` at once from a thread pool;
    finish them (``job``) in the input's order, until the frames or the backdrop end."""
    decoder = read_frames(foreground, start=part.start, end=part.end)  # opens on the 1st frame
    frames: Iterator[Frame] = decoder if part.max_frames is None else \
        islice(decoder, part.max_frames)
    pool = ThreadPoolExecutor(in_flight, thread_name_prefix="matte")
    try:
        pending: deque[tuple[Frame, int, Future[tuple[Matted, dict[str, float]]]]] = deque()
        while True:
            with job.stage("decode"):
                frame = next(frames, None)
            if frame is None:
                break
            pts = job.timestamp(frame)
            pending.append((frame, pts, pool.submit(_matted, matting, frame.rgb, budget)))
            if len(pending) >= in_flight and not job.finish(*pending.popleft(), bar):
                return  # the backdrop has ended: so does the output
        while pending and job.finish(*pending.popleft(), bar):
            pass
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        decoder.close()


class _Job(StageTimer):
    """The in-order half of the pipeline: time, stabilise, composite, encode, report; its
    stages' seconds add up in ``stages``."""

    def __init__(self, writer: VideoWriter, backdrop: Backdrop,
                 stabilizer: AlphaStabilizer | None,
                 on_frame: Callable[[FrameResult], None] | None, rate: Fraction,
                 trimmed: bool) -> None:
        super().__init__()
        self.writer, self.backdrop, self.stabilizer = writer, backdrop, stabilizer
        self.on_frame, self.rate, self.trimmed = on_frame, rate, trimmed
        self.origin: Fraction | None = None  # the first frame's time: output time 0
        self.pts: int | None = None  # the last frame read's output timestamp
        self.last_pts = -1  # the last frame written's
        self.look: tuple[VideoEffects, Applied] | None = None  # the effects, if any

    def timestamp(self, frame: Frame) -> int:
        """The output timestamp of the next frame read, in frames. The first one sets the
        origin, and starts the audio there (or at the audio's own start, if earlier, when the
        whole video is processed, to keep their offset)."""
        if self.origin is None:
            self.origin = frame.time
            if self.writer.audio is not None:
                if not self.trimmed:
                    self.origin = min(self.origin, self.writer.audio.start_time)
                self.writer.audio.begin(self.origin)
        self.pts = output_pts(frame.time, self.origin, self.rate, self.pts)
        return self.pts

    def finish(self, frame: Frame, pts: int,
               future: Future[tuple[Matted, dict[str, float]]], bar: tqdm) -> bool:
        """Write one frame; False when the backdrop has ended and the output stops here."""
        with self.stage("wait"):
            matted, stages = future.result()
        for name, spent in stages.items():
            self.stages[name] = self.stages.get(name, 0.0) + spent
        alpha = matted.alpha
        if self.stabilizer is not None:
            with self.stage("stabilize"):
                alpha = self.stabilizer(frame.rgb, matted.alpha, matted.people)
        time = Fraction(pts) / self.rate
        with self.stage("composite"):
            pixels = render(matted, alpha, frame.rgb, self.backdrop, time, self.look)
        if pixels is None:
            return False
        with self.stage("encode"):
            self.writer.write(pixels, pts)
            if self.writer.audio is not None:
                self.writer.audio.write_until(time)
        self.last_pts = pts
        if self.on_frame is not None:
            self.on_frame(FrameResult(frame.index, time, frame.rgb, matted.alpha, alpha,
                                      matted.people, pixels))
        bar.update(1)
        return True


def _progress_bar(enabled: bool, total: int | None, name: str) -> tqdm:
    """Frames done, frames per second (also below one) and the time left."""
    return tqdm(total=total, unit="frame", desc=name, disable=not enabled, dynamic_ncols=True,
                smoothing=0.1, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                                         "[{elapsed}<{remaining}, {rate_noinv_fmt}]")


def preview_frames(path: str | Path, count: int = 3) -> list[np.ndarray]:
    """``count`` frames spread evenly over a video, first and last included (RGB uint8
    H×W×3), for a look; one pass, holding only those."""
    info = probe(Path(path))
    total = info.frames or (round(info.duration * info.rate) if info.duration else count)
    picks = set(np.linspace(0, max(total - 1, 0), max(count, 0)).round().astype(int).tolist())
    chosen, last = [], None
    for frame in read_frames(Path(path)):
        last = frame
        if frame.index in picks:
            chosen.append(frame.rgb)
    if last is not None and len(chosen) < len(picks) and last.index not in picks:
        chosen.append(last.rgb)  # the container overstated its length
    return chosen
