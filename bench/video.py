"""Video benchmark: frames per second of the whole command, and alpha flicker with temporal
stability on and off.

Starts both services as real processes with the embedded backends (MediaPipe selfie +
closed-form matting) and, for a clip from ../shared/data/videos at its native size:

1. runs ``python -m client.video CLIP out.mp4 --background BACKGROUND`` as a user would and
   divides the frames by the wall-clock time of the whole process (start-up, decoding, HTTP,
   segmentation, matting, compositing, encoding, sound);
2. runs the same function in-process with an ``on_frame`` hook that keeps each frame's alpha as
   the service answered it (what temporal stability off writes) and after the filter (on), and
   prints:
   - flicker: the mean absolute change of alpha between consecutive frames over the pixels
     that are background in both frames or foreground in both (alpha < 0.5 or ≥ 0.5 in both,
     judged on the unfiltered alpha, so the same pixels count for on and off; people moving
     across a pixel take it out);
   - held back: the mean |alpha on − alpha off| over the pixels whose unfiltered alpha did
     change sides, split by whether the picture itself changed there by more than 10 levels
     (a moving edge: the filter should leave it alone, 0 = no smear) or not (a still pixel
     whose matte flipped: the flicker the filter is there to calm).

Both services get two warm-up frames first, so neither run pays for first-request costs.

    .venv/bin/python -m bench.video [--clip asl_thanks.mkv] [--background asl_walk.mkv]
                                    [--in-flight 4] [--max-frames N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from client.matting_client import MattingClient
from client.media import probe, read_frames
from client.video import FrameResult, matte_frame, replace_background
from testing.launcher import ROOT, Service

VIDEOS = ROOT.parent / "shared" / "data" / "videos"


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


def run_command(clip: Path, background: Path, target: Path, server: str, in_flight: int,
                max_frames: int | None) -> tuple[int, float]:
    """The command as a user runs it: (frames written, wall-clock seconds)."""
    command = [sys.executable, "-m", "client.video", str(clip), str(target), "--background",
               str(background), "--server", server, "--in-flight", str(in_flight)]
    if max_frames:
        command += ["--max-frames", str(max_frames)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"client.video failed:\n{done.stderr}")
    frames = re.search(r"(\d+) frames", done.stdout)
    return int(frames.group(1)) if frames else 0, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.video",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", default="asl_thanks.mkv", help="a file in ../shared/data/videos")
    parser.add_argument("--background", default="asl_walk.mkv",
                        help="a file in ../shared/data/videos to put behind")
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    args = parser.parse_args(argv)
    clip, background = VIDEOS / args.clip, VIDEOS / args.background
    for path in (clip, background):
        if not path.is_file():
            raise SystemExit(f"{path} is missing: the evaluation data lives beside the project")
    info = probe(clip)
    length = info.frames or (round(info.duration * info.rate) if info.duration else "?")
    print(f"clip {clip.name}: {info.width}×{info.height}, {float(info.rate):g} fps, "
          f"{length} frames; background {background.name}; "
          f"{os.cpu_count()} CPUs; {args.in_flight} frames in flight")

    segmentation = Service("segmentation_api", {"SEGMENTER": "selfie"})
    matting = Service("matting_api", {"MATTER": "closed-form"})
    alphas: list[tuple[np.ndarray, np.ndarray]] = []  # (off, on) for each frame
    moving: list[np.ndarray] = []
    previous: list[np.ndarray] = []
    try:
        segmentation.start()
        matting.env["SEGMENTATION_URL"] = segmentation.url
        matting.start()
        first = next(read_frames(clip)).rgb
        for _ in range(2):
            matte_frame(MattingClient(matting.url), first)
        with tempfile.TemporaryDirectory() as folder:
            frames, seconds = run_command(clip, background, Path(folder) / "command.mp4",
                                          matting.url, args.in_flight, args.max_frames)

            def keep(result: FrameResult) -> None:
                alphas.append((result.raw_alpha, result.alpha))
                moving.append(picture_moved(previous[-1] if previous else result.image_rgb,
                                            result.image_rgb))
                previous[:] = [result.image_rgb]

            inline = replace_background(clip, Path(folder) / "inline.mp4",
                                        background=str(background), server=matting.url,
                                        in_flight=args.in_flight, max_frames=args.max_frames,
                                        progress=False, on_frame=keep)
    finally:
        matting.stop()
        segmentation.stop()

    off, on = [a for a, _ in alphas], [a for _, a in alphas]
    print(f"whole command (python -m client.video, .mp4, stability on): {frames} frames in "
          f"{seconds:.1f} s = {frames / seconds:.2f} frames/s")
    print(f"same function in-process: {inline.frames} frames in {inline.seconds:.1f} s = "
          f"{inline.frames / inline.seconds:.2f} frames/s")
    print("flicker, mean |Δalpha| between consecutive frames over pixels background or "
          "foreground in both:")
    print(f"  temporal stability off: {flicker(off, off):.5f}")
    print(f"  temporal stability on:  {flicker(on, off):.5f}  "
          f"({flicker(on, off) / max(flicker(off, off), 1e-12):.0%} of off)")
    moved, still = held_back(on, off, moving)
    print("held back, mean |alpha on − off| where the unfiltered alpha crossed 0.5:")
    print(f"  moving edges (picture changed > 10 levels): {moved:.5f}")
    print(f"  still picture (the matte alone flipped):    {still:.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
