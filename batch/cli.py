"""Replace the background of many photos, or of a long video, on a Ray cluster.

    remove-background-batch INPUT DESTINATION [--address HOST:PORT] [--background green]
                            [--output composite] [--format png] [--if-no-person error]
                            [--video-format .mp4] [--segment-seconds 10] [--solve-pixels N]
                            [--actors N]
                            [--cpus-per-actor 1] [--segmenter ...] [--matter ...]

INPUT is a folder (every image in it, recursively), a list file (``.txt``, ``.lst``, ``.list``:
one path a line, relative to the list's folder), one image, or a video. Results go into the folder
DESTINATION under the inputs' relative paths (a video: its name with ``--video-format``), with
``manifest.jsonl`` beside them; run the same command again to finish what an interrupted run
left. ``--address`` joins a running Ray cluster (every node must have this package and see
INPUT and DESTINATION at the same paths); without it a local Ray is started for the run.
"""

from __future__ import annotations

import argparse
import sys
import time as clock
from fractions import Fraction
from pathlib import Path

from background_replacement.arguments import add_effect_arguments, effects_given
from background_replacement.background import is_transparent_spec
from background_replacement.batch.driver import Outcome, run_photos, run_video
from background_replacement.batch.inputs import (
    common_root,
    folder_photos,
    is_list_file,
    is_photo,
    listed_photos,
    photo_inputs,
)
from background_replacement.batch.pool import NoWorkersLeft, actor_count
from background_replacement.batch.results import MANIFEST_NAME
from background_replacement.batch.worker import JobOptions
from background_replacement.matters import MATTERS
from background_replacement.pipeline import NO_PERSON_CHOICES, OUTPUTS, check_format
from background_replacement.segmenters import SEGMENTERS
from background_replacement.video.frame_matting import DEFAULT_SOLVE_PIXELS, SOLVE_PIXELS_HELP
from background_replacement.video.media import OUTPUT_FORMATS, VideoError

PHOTO_FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
DEFAULT_SEGMENT_SECONDS = 10


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command's arguments."""
    parser = argparse.ArgumentParser(prog="remove-background-batch",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="a folder of images, a list file or a video")
    parser.add_argument("destination", type=Path, help="the folder the results go to")
    parser.add_argument("--address", help="a running Ray cluster (default: a local one)")
    parser.add_argument("--background",
                        help="a named background, #rrggbb, a CSS colour name, blur, transparent "
                             "or the path of an image (default: green; transparent for a "
                             ".webm or .mov video)")
    parser.add_argument("--output", default=OUTPUTS[0], choices=OUTPUTS)
    parser.add_argument("--format", default="png", choices=PHOTO_FORMATS,
                        help="the photos' format (default: %(default)s)")
    parser.add_argument("--if-no-person", default="error", choices=NO_PERSON_CHOICES,
                        help="a photo with nobody in it: an error, the photo unchanged, or "
                             "the background alone (default: %(default)s)")
    parser.add_argument("--video-format", default=".mp4", choices=OUTPUT_FORMATS)
    parser.add_argument("--segment-seconds", type=Fraction, default=DEFAULT_SEGMENT_SECONDS,
                        help="length of a video's segments (default: %(default)s)")
    parser.add_argument("--solve-pixels", type=int, default=DEFAULT_SOLVE_PIXELS,
                        help=SOLVE_PIXELS_HELP)
    parser.add_argument("--actors", type=int,
                        help="workers, each loading the models once (default: one for every "
                             "--cpus-per-actor CPUs of the cluster)")
    parser.add_argument("--cpus-per-actor", type=float, default=1.0)
    parser.add_argument("--segmenter", choices=SEGMENTERS.choices,
                        help="default: SEGMENTER from the environment, else auto")
    parser.add_argument("--matter", choices=MATTERS.choices,
                        help="default: MATTER from the environment, else auto")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    add_effect_arguments(parser)
    args = parser.parse_args(argv)
    if not args.input.exists():
        parser.error(f"{args.input} does not exist")
    if args.segment_seconds <= 0 or (args.actors is not None and args.actors < 1):
        parser.error("--segment-seconds and --actors must be positive")
    if args.solve_pixels < 0:
        parser.error("--solve-pixels must be 0 or more")
    if is_photos(args.input):
        try:
            check_format(args.format, args.output, is_transparent_spec(args.background))
        except ValueError as exc:
            parser.error(str(exc))
    return args


def is_photos(path: Path) -> bool:
    """Whether the job's input is photos (a folder, a list file or one image), not a video."""
    return path.is_dir() or is_list_file(path) or is_photo(path)


def job_options(args: argparse.Namespace, video: bool) -> JobOptions:
    """The actors' options from the arguments."""
    settings = {name: getattr(args, name) for name in ("segmenter", "matter")
                if getattr(args, name)}
    background = args.background
    if background is None and video and OUTPUT_FORMATS[args.video_format].alpha_pix_fmt:
        background = "transparent"
    output = "composite" if video else args.output
    return JobOptions(settings, background, output, args.format, args.if_no_person,
                      solve_pixels=args.solve_pixels, effects=effects_given(args))


def run(args: argparse.Namespace) -> Outcome:
    """The job, on the Ray that ``ray.init`` connected to."""
    cpus = args.cpus_per_actor
    actors = args.actors or actor_count(cpus)
    if is_photos(args.input):
        if args.input.is_dir():
            sources = folder_photos(args.input, skip=args.destination)
        else:
            sources = listed_photos(args.input) if is_list_file(args.input) else [args.input]
        root = args.input if args.input.is_dir() else common_root(sources)
        photos = photo_inputs(sources, root, PHOTO_FORMATS[args.format])
        return run_photos(photos, args.destination, job_options(args, video=False), actors,
                          cpus, args.progress)
    return run_video(args.input, args.destination, args.video_format,
                     job_options(args, video=True), actors, cpus, args.segment_seconds,
                     args.progress)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    import ray

    began = clock.perf_counter()
    # The actors' own logs (the models' chatter) stay in the cluster's log files.
    ray.init(address=args.address, include_dashboard=False, logging_level="WARNING",
             log_to_driver=False)
    try:
        outcome = run(args)
    except (ValueError, NoWorkersLeft, VideoError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to finish", file=sys.stderr)
        return 130
    finally:
        ray.shutdown()
    seconds = clock.perf_counter() - began
    print(f"{outcome.done} done, {outcome.skipped} done before, {outcome.failed} failed, "
          f"{outcome.moved} task(s) moved from lost workers, in {seconds:.1f} s; manifest: "
          f"{args.destination / MANIFEST_NAME}")
    return 1 if outcome.failed else 0
