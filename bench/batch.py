"""Throughput of the batch engine on Ray with 1 and 2 nodes (one CPU each), on the same photos,
in one run, beside the machine's matrix-product rate measured in the same run.

    python -m bench.batch          # needs root: the nodes run in a loopback-only namespace
    python -m bench.batch --joins VIDEO [--segment-seconds 1]   # in this process, no Ray

The nodes are started with ``ray start`` (``testing.ray_cluster``); a driver inside the
namespace builds the pool (one actor per CPU), waits until every actor has loaded its models,
then times the photos through ``ActorPool.run``, each written atomically as the command writes
it. Model loading is left out: it happens once per actor, whatever the job's size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from bench.data import PORTRAITS

EMBEDDED = {"segmenter": "selfie", "matter": "closed-form"}
EMPTY_TASKS = 2000


def measure(address: str, folder: Path) -> dict[str, float]:
    """Inside the namespace: photos/s of a warm pool over every photo of ``folder``."""
    import ray

    from background_replacement.batch.pool import ActorPool, Task, actor_count
    from background_replacement.batch.worker import JobOptions

    photos = sorted((folder / "images").glob("*.jpg"))
    ray.init(address=address, logging_level="WARNING", log_to_driver=False)
    try:
        pool = ActorPool(JobOptions(EMBEDDED), actor_count(1))
        ray.get([actor.__ray_ready__.remote() for actor in pool.actors])  # models loaded
        with tempfile.TemporaryDirectory() as out:
            tasks = [Task(p, "photo", (str(p), f"{out}/{p.stem}.png")) for p in photos]
            began = time.perf_counter()
            pool.run(tasks, lambda task, value: None, lambda task, error: print(error))
            seconds = time.perf_counter() - began
        # The driver's own ceiling: empty tasks through the same loop.
        empty = [Task(i, "__ray_ready__", ()) for i in range(EMPTY_TASKS)]
        began = time.perf_counter()
        pool.run(empty, lambda task, value: None, lambda task, error: print(error))
        dispatch = EMPTY_TASKS / (time.perf_counter() - began)
        actors = len(pool.actors)
        pool.close()
    finally:
        ray.shutdown()
    return {"actors": actors, "photos": len(photos), "seconds": seconds,
            "photos_per_s": len(photos) / seconds, "empty_tasks_per_s": dispatch}


def join_differences(video: Path, seconds: Fraction, warm_ups: tuple[int, ...]) -> None:
    """Print how far the segmented video's composited frames (before encoding) are from the
    same video matted in one piece, for each number of warm-up frames: the largest difference
    (levels of 255) in the first frame of a join and in any frame."""
    import numpy as np

    from background_replacement.batch.video import (
        Segment,
        first_frame_time,
        plan_segments,
        segment_frames,
    )
    from background_replacement.batch.worker import JobOptions, Worker
    from background_replacement.video.media import probe

    info, zero = probe(video), first_frame_time(video)
    worker = Worker(JobOptions(EMBEDDED), threads=0)
    with tempfile.TemporaryDirectory() as folder:
        whole = Path(folder) / "whole.mkv"
        worker.segment(str(video), Segment(0, Fraction(0), None, Fraction(0)), zero, info,
                       str(whole))
        reference = [pixels.astype(np.int16) for pixels in segment_frames(whole)]
        for warm_up in warm_ups:
            frames, joins = [], []
            for segment in plan_segments(info.duration, info.rate, seconds, warm_up):
                part = Path(folder) / f"{segment.index}.mkv"
                worker.segment(str(video), segment, zero, info, str(part))
                joins.append(len(frames))
                frames += [pixels.astype(np.int16) for pixels in segment_frames(part)]
            worst = [int(np.abs(a - b).max()) for a, b in zip(frames, reference, strict=True)]
            print(f"warm-up {warm_up:>2} frames, {len(joins) - 1} joins: at most "
                  f"{max(worst[j] for j in joins[1:])} levels on a join's first frame, "
                  f"{max(worst)} in any frame")


def manifest_rate(lines: int = 2000) -> float:
    """Manifest lines appended per second (one write each, one fsync at the end) in a
    temporary folder."""
    from background_replacement.batch.results import Manifest, Record

    with tempfile.TemporaryDirectory() as folder:
        manifest = Manifest(Path(folder))
        began = time.perf_counter()
        for index in range(lines):
            manifest.append(Record(f"photos/{index:07d}.jpg", f"photos/{index:07d}.png",
                                   "0" * 64))
        manifest.close()
        return lines / (time.perf_counter() - began)


def run_inside(cluster, folder: Path) -> dict[str, float]:
    """``measure`` in a driver process inside the cluster's namespace."""
    driver = cluster.inside([sys.executable, "-m", "bench.batch", "--measure", cluster.address,
                             "--photos", str(folder)], "driver", stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    output, _ = driver.communicate(timeout=600)
    if driver.returncode != 0:
        raise SystemExit(f"the measuring driver failed ({driver.returncode})")
    return json.loads(output.decode().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=PORTRAITS,
                        help="a folder with images/*.jpg (default: %(default)s)")
    parser.add_argument("--measure", metavar="ADDRESS", help=argparse.SUPPRESS)
    parser.add_argument("--joins", type=Path, metavar="VIDEO",
                        help="instead: a video's differences at segment joins, in this process")
    parser.add_argument("--segment-seconds", type=Fraction, default=Fraction(1))
    args = parser.parse_args()
    if args.joins:
        from background_replacement.batch.video import warm_up_frames
        from background_replacement.video.temporal import TemporalStability

        join_differences(args.joins, args.segment_seconds,
                         (0, 5, warm_up_frames(TemporalStability())))
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.photos)))
        return
    if not (args.photos / "images").is_dir():
        raise SystemExit(f"{args.photos} is missing: the evaluation data lives beside the project")
    import torch

    from bench.pipeline import matmul_rate
    from testing.ray_cluster import Cluster, namespaces_available, short_folder

    if not namespaces_available():
        raise SystemExit("needs root, unshare and nsenter (Ray runs in a loopback-only namespace)")
    torch.set_num_threads(1)  # each node has one CPU: compare with one thread's rate
    rates = [matmul_rate(torch.float32)]
    folder = short_folder()
    cluster = Cluster(folder)
    try:
        cluster.start(worker=False)
        one = run_inside(cluster, args.photos)
        cluster.add_worker()
        two = run_inside(cluster, args.photos)
    finally:
        cluster.stop()
        subprocess.run(["rm", "-rf", str(folder)], check=False)
    rates.append(matmul_rate(torch.float32))
    print(f"matrix products (float32, 2048², one thread): "
          f"{rates[0]:.0f} GFLOP/s before, {rates[1]:.0f} GFLOP/s after")
    print(f"{'nodes':>5} {'actors':>6} {'photos':>6} {'seconds':>8} {'photos/s':>9}")
    for nodes, row in ((1, one), (2, two)):
        print(f"{nodes:>5} {row['actors']:>6} {row['photos']:>6} {row['seconds']:>8.1f} "
              f"{row['photos_per_s']:>9.2f}")
    print(f"2 nodes / 1 node: {two['photos_per_s'] / one['photos_per_s']:.2f}×")
    print(f"driver: {two['empty_tasks_per_s']:.0f} empty tasks/s through the pool "
          f"(2 actors); manifest: {manifest_rate():.0f} lines/s appended")


if __name__ == "__main__":
    main()
