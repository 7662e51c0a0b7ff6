"""Video benchmark: frames per second of the whole command, with the services and in process
(``--local``), beside references from the same run; alpha flicker with temporal stability on and
off, for the frames matted at full size (as before the per-frame budget) and within it.

Starts both services under gunicorn with the embedded backends (the pose segmenter, or
``--segmenter``, and closed-form matting), as ``remove-background-services`` does, and, for a
clip from ../shared/data/videos at its native size:

1. runs ``remove-background-video CLIP out.mp4 --background BACKGROUND`` as a user would, once
   with the services and once with ``--local``, and divides the frames by the wall-clock time of
   the whole process (start-up, model loading for ``--local``, decoding, matting, compositing,
   encoding) and by the job's own time, as the command prints it;
2. references, in the same run: the rate of a float64 matrix product (the BLAS that closed-form
   matting's factorisation runs on), and the straightforward per-frame pipeline in process on the
   first frames (one selfie pass, 0.1/0.9 trimap, pymatting's closed-form at full size,
   composite; one frame after the other);
3. runs the same function in process through the services with an ``on_frame`` hook, once with
   every frame matted at full size (``solve_pixels=0``, the path before the per-frame budget)
   and once within the default budget, and once in process with the core (``LocalMatting``),
   and prints for each:
   - flicker: the mean absolute change of alpha between consecutive frames over the pixels
     that are background in both frames or foreground in both (alpha < 0.5 or ≥ 0.5 in both,
     judged on the unfiltered alpha, so the same pixels count for on and off; people moving
     across a pixel take it out);
   - held back: the mean |alpha on − alpha off| over the pixels whose unfiltered alpha did
     change sides, split by whether the picture itself changed there by more than 10 levels
     (a moving edge: the filter should leave it alone, 0 = no smear) or not (a still pixel
     whose matte flipped: the flicker the filter is there to calm);
   - how far the unfiltered alpha is from the full-size one (mean |Δalpha|, IoU of alpha ≥ 0.5);
   - where the time goes: milliseconds a frame in each stage.

Both services get two warm-up frames first, so no run pays for first-request costs.

``--effects`` measures instead whether the composite's effects flicker: the clip in process
(``LocalMatting``, stability on) over a still picture under a warm light (the README's
harmonisation background, so every effect has work to do), once plain and once with
harmonisation, light wrap and shadow (``EFFECTS``), and for each the mean absolute change of
the composited frames between consecutive frames, in levels, where the foreground picture
did not move (more than 10 levels), beside alpha's flicker (× 255, levels too) and how far
the effects moved the frames.

    .venv/bin/python -m bench.video [--clip asl_thanks.mkv] [--background asl_walk.mkv]
                                    [--max-frames N] [--reference-frames 5] [--effects]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from background_replacement.client.matting_client import MattingClient
from background_replacement.client.service_matting import ServiceMatting
from background_replacement.client.video import FrameResult, replace_background
from background_replacement.compositing import cover
from background_replacement.params import Effects
from background_replacement.video.frame_matting import (
    DEFAULT_SOLVE_PIXELS,
    LocalMatting,
    matte_frame,
)
from background_replacement.video.media import probe, read_frames
from bench.machine import describe, matmul_gflops
from bench.matting_quality import straightforward_pipeline
from scripts.effect_pictures import warm_light
from testing.commands import VIDEO_COMMAND
from testing.launcher import ROOT, Service

VIDEOS = ROOT.parent / "shared" / "data" / "videos"
BACKENDS = {"SEGMENTER": "pose", "MATTER": "closed-form"}  # --segmenter replaces the first
EFFECTS = Effects(harmonise=1.0, light_wrap=0.5, shadow=0.6)


def flicker(alphas: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """Mean |alpha_t − alpha_t−1| over the pixels whose ``reference`` alpha is on the same side
    of 0.5 in both frames (background in both or foreground in both)."""
    total, count = 0.0, 0
    for (previous, current), (ref_previous, ref_current) in zip(
            pairwise(alphas), pairwise(reference), strict=True):
        same_side = (ref_previous >= 0.5) == (ref_current >= 0.5)
        total += float(np.abs(current - previous)[same_side].sum())
        count += int(same_side.sum())
    return total / max(count, 1)


def held_back(alphas: list[np.ndarray], reference: list[np.ndarray],
              moving: list[np.ndarray]) -> tuple[float, float]:
    """Mean |alpha − reference| over the pixels whose reference alpha changed sides of 0.5
    since the previous frame: (where ``moving`` says the picture changed, where it did not)."""
    sums, counts = np.zeros(2), np.zeros(2)
    for t in range(1, len(reference)):
        crossed = (reference[t - 1] >= 0.5) != (reference[t] >= 0.5)
        difference = np.abs(alphas[t] - reference[t])
        for k, where in enumerate((crossed & moving[t], crossed & ~moving[t])):
            sums[k] += float(difference[where].sum())
            counts[k] += int(where.sum())
    moved, still = sums / np.maximum(counts, 1)
    return float(moved), float(still)


def picture_moved(previous_rgb: np.ndarray, rgb: np.ndarray, levels: int = 10) -> np.ndarray:
    """Boolean H×W: where the gray picture changed by more than ``levels`` since the previous
    frame."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.absdiff(gray, cv2.cvtColor(previous_rgb, cv2.COLOR_RGB2GRAY)) > levels


def run_command(clip: Path, background: Path, target: Path, extra: list[str],
                max_frames: int | None,
                services: list[Service]) -> tuple[int, float, float, list[float]]:
    """The command as a user runs it: (frames written, wall-clock seconds of the process, the
    job's frames per second as the command prints them, CPU seconds of the command and of each
    service meanwhile)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    served = [service.cpu_seconds() for service in services]
    command = [*VIDEO_COMMAND, str(clip), str(target), "--background",
               str(background), *extra]
    if max_frames:
        command += ["--max-frames", str(max_frames)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **BACKENDS})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"client.video failed:\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = [after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime]
    cpu += [service.cpu_seconds() - before
            for service, before in zip(services, served, strict=True)]
    written = re.search(r"(\d+) frames, .* ([\d.]+) frames/s", done.stdout)
    if written is None:
        raise SystemExit(f"client.video said something unexpected:\n{done.stdout}")
    return int(written.group(1)), seconds, float(written.group(2)), cpu


def straightforward_rate(clip: Path, background: Path, frames: int) -> float:
    """Frames per second of the straightforward per-frame pipeline in process: alpha (one
    selfie pass, 0.1/0.9 trimap, closed-form at full size), then the frame over the background
    frame, one frame after the other; decoding not counted."""
    alpha_of = straightforward_pipeline()
    pictures = [f.rgb for _, f in zip(range(frames), read_frames(clip), strict=False)]
    behind = [f.rgb for _, f in zip(range(frames), read_frames(background), strict=False)]
    start = time.perf_counter()
    for picture, back in zip(pictures, behind, strict=False):
        with contextlib.redirect_stdout(io.StringIO()):  # pymatting's notes on its preconditioner
            alpha = alpha_of(b"", picture)[:, :, None]
        back = cv2.resize(back, picture.shape[1::-1])
        _ = (alpha * picture + (1 - alpha) * back + 0.5).astype(np.uint8)
    return len(pictures) / (time.perf_counter() - start)


class Recorded:
    """What ``on_frame`` saw of one in-process run: alpha before and after temporal stability,
    and where the picture moved."""

    def __init__(self) -> None:
        self.off: list[np.ndarray] = []
        self.on: list[np.ndarray] = []
        self.moving: list[np.ndarray] = []
        self._previous: np.ndarray | None = None

    def __call__(self, result: FrameResult) -> None:
        self.off.append(result.raw_alpha)
        self.on.append(result.alpha)
        previous = result.image_rgb if self._previous is None else self._previous
        self.moving.append(picture_moved(previous, result.image_rgb))
        self._previous = result.image_rgb


class Composited(Recorded):
    """``Recorded``, and the composited frames."""

    def __init__(self) -> None:
        super().__init__()
        self.pixels: list[np.ndarray] = []

    def __call__(self, result: FrameResult) -> None:
        super().__call__(result)
        self.pixels.append(result.pixels.astype(np.float32))


def still_change(recorded: Composited) -> float:
    """Mean |frame_t − frame_t−1| of the composited frames (levels) over the pixels where the
    foreground picture did not move."""
    total, count = 0.0, 0
    for t in range(1, len(recorded.pixels)):
        still = ~recorded.moving[t]
        total += float(np.abs(recorded.pixels[t] - recorded.pixels[t - 1])[still].sum())
        count += 3 * int(still.sum())
    return total / max(count, 1)


def effects_flicker(clip: Path, max_frames: int | None) -> None:
    """Print the composite's frame-to-frame change in still regions with and without
    ``EFFECTS`` (see the module's docstring)."""
    os.environ.update(BACKENDS)
    matting = LocalMatting.load()
    runs = {}
    info = probe(clip)
    with tempfile.TemporaryDirectory() as folder:
        background = Path(folder) / "warm.png"
        cv2.imwrite(str(background), cv2.cvtColor(cover(warm_light(max(
            info.width, info.height)), info.height, info.width), cv2.COLOR_RGB2BGR))
        for label, effects in (("plain", Effects()), ("effects", EFFECTS)):
            recorded = Composited()
            replace_background(clip, Path(folder) / "out.mp4", background=str(background),
                               max_frames=max_frames, progress=False, on_frame=recorded,
                               matting=matting, effects=effects,
                               in_flight=len(os.sched_getaffinity(0)))
            runs[label] = recorded
    alpha = 255 * flicker(runs["plain"].on, runs["plain"].off)
    moved = np.mean([np.abs(a - b).mean() for a, b in zip(
        runs["plain"].pixels, runs["effects"].pixels, strict=True)])
    print(f"effects {EFFECTS} over a warm picture, {len(runs['plain'].pixels)} frames, "
          f"stability on: the effects moved the frames {moved:.2f} levels on average; alpha "
          f"flicker {alpha:.3f} levels; composite change where the picture is still: plain "
          f"{still_change(runs['plain']):.3f}, with effects {still_change(runs['effects']):.3f} "
          "levels a frame")


def report_run(name: str, result, recorded: Recorded, full: Recorded | None) -> None:
    """One in-process run: rate, flicker, held back, distance from full size, stages."""
    off = flicker(recorded.off, recorded.off)
    on = flicker(recorded.on, recorded.off)
    moved, still = held_back(recorded.on, recorded.off, recorded.moving)
    print(f"{name}: {result.frames} frames in {result.seconds:.1f} s = "
          f"{result.frames / result.seconds:.2f} frames/s")
    print(f"  flicker off {off:.5f}, on {on:.5f} ({on / max(off, 1e-12):.0%} of off); held back "
          f"on moving edges {moved:.5f}, on still pictures {still:.5f}")
    if full is not None:
        difference = np.mean([np.abs(a - b).mean() for a, b in zip(recorded.off, full.off,
                                                                  strict=True)])
        ious = [np.count_nonzero((a >= 0.5) & (b >= 0.5))
                / max(1, np.count_nonzero((a >= 0.5) | (b >= 0.5)))
                for a, b in zip(recorded.off, full.off, strict=True)]
        print(f"  against full size: mean |Δalpha| {difference:.5f}, IoU (alpha ≥ 0.5) "
              f"{np.mean(ious):.4f}")
    stages = ", ".join(f"{stage} {1000 * spent / result.frames:.1f}"
                       for stage, spent in result.stages.items())
    print(f"  ms a frame: {stages}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.video",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", default="asl_thanks.mkv", help="a file in ../shared/data/videos")
    parser.add_argument("--background", default="asl_walk.mkv",
                        help="a file in ../shared/data/videos to put behind")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    parser.add_argument("--segmenter", default=BACKENDS["SEGMENTER"],
                        help="SEGMENTER for the services and --local")
    parser.add_argument("--reference-frames", type=int, default=5,
                        help="frames the straightforward pipeline is timed on")
    parser.add_argument("--effects", action="store_true",
                        help="only measure the effects' flicker, in process")
    args = parser.parse_args(argv)
    BACKENDS["SEGMENTER"] = args.segmenter
    clip, background = VIDEOS / args.clip, VIDEOS / args.background
    for path in (clip, background):
        if not path.is_file():
            raise SystemExit(f"{path} is missing: the evaluation data lives beside the project")
    if args.effects:
        effects_flicker(clip, args.max_frames)
        return 0
    info = probe(clip)
    length = info.frames or (round(info.duration * info.rate) if info.duration else "?")
    print(f"clip {clip.name}: {info.width}×{info.height}, {float(info.rate):g} fps, "
          f"{length} frames; background {background.name}; solve budget "
          f"{DEFAULT_SOLVE_PIXELS} pixels")
    print(f"machine: {describe()}")
    print(f"reference: float64 matrix product {matmul_gflops():.1f} GFLOP/s; straightforward "
          f"per-frame pipeline {straightforward_rate(clip, background, args.reference_frames):.2f}"
          f" frames/s (first {args.reference_frames} frames)")

    segmentation = Service("segmentation_api", {"SEGMENTER": BACKENDS["SEGMENTER"]},
                           server="gunicorn")
    matting = Service("matting_api", {"MATTER": BACKENDS["MATTER"]}, server="gunicorn")
    runs: dict[str, tuple] = {}
    try:
        segmentation.start()
        matting.env["SEGMENTATION_URL"] = segmentation.url
        matting.start()
        service = ServiceMatting(MattingClient(matting.url))
        first = next(read_frames(clip)).rgb
        for _ in range(2):
            matte_frame(service, first)
        with tempfile.TemporaryDirectory() as folder:
            services = [segmentation, matting]
            command = run_command(clip, background, Path(folder) / "command.mp4",
                                  ["--server", matting.url], args.max_frames, services)
            local = run_command(clip, background, Path(folder) / "local.mp4", ["--local"],
                                args.max_frames, services)
            for name, solve_pixels, matter in (
                    ("services, every frame at full size (before)", 0, service),
                    ("services, within the budget", DEFAULT_SOLVE_PIXELS, service),
                    ("in process (LocalMatting), within the budget", DEFAULT_SOLVE_PIXELS,
                     None)):
                recorded = Recorded()
                if matter is None:
                    os.environ.update(BACKENDS)
                    matter = LocalMatting.load()
                result = replace_background(
                    clip, Path(folder) / "inline.mp4", background=str(background),
                    max_frames=args.max_frames, progress=False, on_frame=recorded,
                    matting=matter, solve_pixels=solve_pixels)  # in flight: as the matting says
                runs[name] = (result, recorded)
    finally:
        matting.stop()
        segmentation.stop()

    for name, (frames, seconds, job_rate, cpu) in (("with the services", command),
                                                    ("--local", local)):
        print(f"whole command {name} (.mp4, stability on): {frames} frames in {seconds:.1f} s "
              f"= {frames / seconds:.2f} frames/s; the job alone (as the command prints it) "
              f"{job_rate:.2f} frames/s")
        print(f"  CPU ms a frame, start-up included: command {1000 * cpu[0] / frames:.0f}, "
              f"segmentation service {1000 * cpu[1] / frames:.0f}, matting service "
              f"{1000 * cpu[2] / frames:.0f}")
    full = next(iter(runs.values()))[1]
    for name, (result, recorded) in runs.items():
        report_run(name, result, recorded, None if recorded is full else full)
    return 0


if __name__ == "__main__":
    sys.exit(main())
