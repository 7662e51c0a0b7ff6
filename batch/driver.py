"""The driver's side of a batch job: what is left to do, the tasks, the manifest, the progress
bar, and the video's join. Ray must be initialised (``ray.init``) before these run."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from tqdm import tqdm

from background_replacement.batch.inputs import PhotoInput
from background_replacement.batch.pool import ActorPool, Task
from background_replacement.batch.results import Manifest, Record, remove_partials, sha256_of
from background_replacement.batch.video import (
    SEGMENT_SUFFIX,
    first_frame_time,
    join_segments,
    plan_segments,
    warm_up_frames,
)
from background_replacement.batch.worker import JobOptions, SegmentDone
from background_replacement.video.media import OUTPUT_FORMATS, probe


@dataclass(frozen=True)
class Outcome:
    """How a job went: inputs done now, skipped (done before), failed; tasks moved to another
    worker when theirs died."""

    done: int
    skipped: int
    failed: int
    moved: int = 0


def run_photos(photos: list[PhotoInput], destination: Path, options: JobOptions,
               actors: int, cpus_per_actor: float, progress: bool = True) -> Outcome:
    """Matte every photo not yet in the destination's manifest into ``destination``."""
    manifest = Manifest(destination)
    finished = manifest.done()
    todo = [p for p in photos if p.name not in finished or finished[p.name].output != p.output]
    tasks = [Task(p, "photo", (str(p.source), str(destination / p.output))) for p in todo]
    failed = []
    bar = tqdm(total=len(photos), initial=len(photos) - len(todo), unit="photo",
               desc=destination.name, disable=not progress, dynamic_ncols=True)

    def record(task: Task, digest: str) -> None:
        manifest.append(Record(task.key.name, task.key.output, digest))
        bar.update(1)

    def report(task: Task, error: BaseException) -> None:
        failed.append(task.key)
        tqdm.write(f"error: {task.key.source}: {error}", file=sys.stderr)

    moved = 0
    try:
        if tasks:
            pool = ActorPool(options, actors, cpus_per_actor)
            try:
                pool.run(tasks, record, report)
            finally:
                moved = pool.moved
                pool.close()
    finally:
        bar.close()
        manifest.close()
        remove_partials(destination)
    return Outcome(len(todo) - len(failed), len(photos) - len(todo), len(failed), moved)


def video_output(video: Path, destination: Path, extension: str) -> Path:
    """Where a video's result goes: its name with ``extension``, in ``destination``."""
    if extension not in OUTPUT_FORMATS:
        raise ValueError(f"video format must be one of {', '.join(OUTPUT_FORMATS)}")
    return destination / f"{video.stem}{extension}"


def run_video(video: Path, destination: Path, extension: str, options: JobOptions,
              actors: int, cpus_per_actor: float, segment_seconds: Fraction,
              progress: bool = True) -> Outcome:
    """Matte a video in segments across the actors and join them into one file (once: a rerun
    whose manifest lists the video with an intact output does nothing)."""
    output = video_output(video, destination, extension)
    name = video.name
    manifest = Manifest(destination)
    if name in manifest.done():
        return Outcome(0, 1, 0)
    info = probe(video)
    segments = plan_segments(info.duration, info.rate, segment_seconds,
                             warm_up_frames(options.stability))
    zero = first_frame_time(video)
    work = destination / f".{video.stem}.segments"
    targets = {s.index: work / f"{s.index:05d}{SEGMENT_SUFFIX}" for s in segments}
    tasks = [Task(s, "segment", (str(video), s, zero, info, str(targets[s.index])))
             for s in segments]
    written: dict[int, SegmentDone] = {}
    errors: list[BaseException] = []
    total = round(info.duration * info.rate) if info.duration else None
    bar = tqdm(total=total, unit="frame", desc=name, disable=not progress, dynamic_ncols=True)

    def segment_done(task: Task, done: SegmentDone) -> None:
        written[task.key.index] = done
        bar.update(len(done.times))

    try:
        pool = ActorPool(options, min(actors, len(segments)), cpus_per_actor)
        try:
            pool.run(tasks, segment_done, lambda task, error: errors.append(error),
                     per_actor=1)  # long tasks: each to the first actor free
        finally:
            moved = pool.moved
            pool.close()
        if errors:
            raise errors[0]
        parts = [(targets[s.index], written[s.index].times) for s in segments]
        join_segments(parts, video, info, output, transparent=written[0].transparent)
        manifest.append(Record(name, output.name, sha256_of(output)))
    finally:
        bar.close()
        manifest.close()
        shutil.rmtree(work, ignore_errors=True)
        remove_partials(destination)
    return Outcome(1, 0, 0, moved)
