"""The photo command on a folder: seconds for the whole command with one request at a time
beside the service's own limit (`--jobs` from `GET /healthz`), in alternating runs.

Starts both services under gunicorn with their production configs and the embedded backends,
writes N copies of examples/astronaut.png (each shifted, so no two are alike) as JPEGs, and
runs `python -m background_replacement.client.remove_background` on the folder.

    .venv/bin/python -m bench.cli_jobs [--photos 12] [--rounds 3] [--jobs-list 1,0]

(`0` in --jobs-list means the default: the service's MAX_IN_FLIGHT.)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from testing.commands import PHOTO_COMMAND
from testing.launcher import ROOT, Service


def make_photos(folder: Path, count: int) -> None:
    rgb = np.asarray(Image.open(ROOT / "examples" / "astronaut.png").convert("RGB"))
    for index in range(count):
        Image.fromarray(np.roll(rgb, 4 * index, axis=1)).save(folder / f"p{index:03d}.jpg",
                                                              quality=92)


def timed_run(folder: Path, out: Path, server: str, jobs: int) -> float:
    command = [*PHOTO_COMMAND, str(folder), str(out),
               "--server", server, *(["--jobs", str(jobs)] if jobs else [])]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs-list", default="1,0", help="comma-separated; 0: the default")
    args = parser.parse_args()
    jobs_list = [int(value) for value in args.jobs_list.split(",")]
    segmentation = Service("segmentation_api", {"SEGMENTER": "selfie"}, server="gunicorn")
    matting = Service("matting_api", {"MATTER": "closed-form"}, server="gunicorn")
    try:
        segmentation.start()
        matting.env["SEGMENTATION_URL"] = segmentation.url
        matting.start()
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "in"
            folder.mkdir()
            make_photos(folder, args.photos)
            times: dict[int, list[float]] = {jobs: [] for jobs in jobs_list}
            for round_ in range(args.rounds):
                for jobs in jobs_list:
                    out = Path(scratch) / f"out-{jobs}-{round_}"
                    times[jobs].append(timed_run(folder, out, matting.url, jobs))
    finally:
        matting.stop()
        segmentation.stop()
    print(f"{args.photos} photos (512×512), embedded backends, {args.rounds} alternating rounds")
    print("jobs        median s   photos/s   runs")
    for jobs, runs in times.items():
        median = statistics.median(runs)
        label = str(jobs) if jobs else "default"
        print(f"{label:<10}  {median:8.2f}   {args.photos / median:8.2f}   "
              + ", ".join(f"{run:.2f}" for run in runs))


if __name__ == "__main__":
    main()
