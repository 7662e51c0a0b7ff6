"""The work one Ray actor does: it loads the models once (a ``BackgroundReplacer``) and then
mattes photos or video segments, writing each result atomically. Plain Python: the pool wraps it
in ``ray.remote``, and tests and the single-process reference call it as it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from background_replacement import BackgroundReplacer
from background_replacement.batch.results import partial_path, write_atomically
from background_replacement.batch.video import Segment, matte_segment
from background_replacement.device import configure_threads
from background_replacement.images import encode_image
from background_replacement.params import NO_EFFECTS, Effects
from background_replacement.pipeline import NO_PERSON_CHOICES
from background_replacement.video.engine import VideoOptions
from background_replacement.video.frame_matting import DEFAULT_SOLVE_PIXELS
from background_replacement.video.media import VideoInfo
from background_replacement.video.temporal import TemporalStability


@dataclass(frozen=True)
class JobOptions:
    """What every actor of a job needs: the core's settings (``Settings`` field names), the
    background, the output kind and format, and for videos the temporal smoothing and each
    frame's budget of pixels (as ``client.video``'s ``--solve-pixels``), and the composite's
    effects (held steady over a video's frames, as the video command holds them)."""

    settings: dict[str, Any] = field(default_factory=dict)
    background: str | None = None
    output: str = "composite"
    fmt: str = "png"
    if_no_person: str = "error"
    stability: TemporalStability | None = field(default_factory=TemporalStability)
    solve_pixels: int = DEFAULT_SOLVE_PIXELS
    effects: Effects = NO_EFFECTS

    def __post_init__(self) -> None:
        if self.if_no_person not in NO_PERSON_CHOICES:
            raise ValueError(f"if_no_person must be one of {', '.join(NO_PERSON_CHOICES)}")
        if self.solve_pixels < 0:
            raise ValueError("solve_pixels must be 0 or more")
        self.effects.validate()

    def video_options(self) -> VideoOptions:
        """How each video segment is made: one frame at a time on an actor."""
        return VideoOptions(stability=self.stability, in_flight=1,
                            solve_pixels=self.solve_pixels, effects=self.effects)


@dataclass(frozen=True)
class SegmentDone:
    """A segment written: its frames' times on the video's clock, and whether its pictures are
    RGBA."""

    times: list[Fraction]
    transparent: bool


class Worker:
    """Owns one ``BackgroundReplacer``; runs ``threads`` CPU threads (the CPUs it was given)."""

    def __init__(self, options: JobOptions, threads: int = 1) -> None:
        self.options = options
        self.replacer = BackgroundReplacer(options.settings)
        configure_threads(threads)
        self.background = self.replacer.background(options.background)

    def photo_bytes(self, source: Path) -> bytes:
        """One photo's result, encoded."""
        pixels = self.replacer.replace_array(source, background=self.background,
                                       output=self.options.output,
                                       if_no_person=self.options.if_no_person,
                                       effects=self.options.effects)
        return encode_image(pixels, self.options.fmt)

    def photo(self, source: str, target: str) -> str:
        """Matte ``source`` into ``target`` atomically; returns the output's SHA-256."""
        return write_atomically(Path(target), self.photo_bytes(Path(source)))

    def segment(self, video: str, segment: Segment, zero: Fraction, info: VideoInfo,
                target: str) -> SegmentDone:
        """Matte one video segment into ``target`` atomically."""
        target_path = Path(target)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_path(target_path)
        try:
            times = matte_segment(self.replacer, Path(video), segment, zero, info,
                                  self.background, self.options.video_options(), partial)
            partial.replace(target_path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return SegmentDone(times, self.background.transparent)
