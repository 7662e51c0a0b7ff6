"""Put the people of one video into another: every frame is matted, by the matting service or
with ``--local`` by the core in this process, and composited over the matching frame of a
background, and the frames become a film again (the engine:
``background_replacement.video.engine``).

    remove-background-video FOREGROUND OUTPUT [--background BACKGROUND]
                           [--background-end loop|freeze|trim] [--server URL]
                           [--start SECONDS] [--duration SECONDS] [--max-frames N]
                           [--in-flight N] [--local] [--solve-pixels N]
                           [--no-temporal-stability] [--harmonise N] [--light-wrap N]
                           [--shadow N] [--shadow-angle N]

BACKGROUND is a video, or anything the core's background grammar reads: an image, ``#rrggbb``,
a CSS colour name, ``blur``, ``transparent`` or the name of one of the service's backgrounds
(``GET /backgrounds``); by default ``green``, or ``transparent`` for the formats with alpha.
OUTPUT's extension picks the format: ``.mp4`` H.264 + AAC for sharing, ``.webm`` VP9 with
alpha + Opus, ``.mov`` ProRes 4444 with alpha + PCM for editors.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from background_replacement.arguments import add_effect_arguments, effects_given
from background_replacement.client.matting_client import (
    DEFAULT_SERVER,
    MattingClient,
    MattingError,
    add_api_key_argument,
    add_server_argument,
    server_url,
)
from background_replacement.client.service_matting import ServiceMatting
from background_replacement.video.backdrops import BACKGROUND_ENDS
from background_replacement.video.engine import (
    DEFAULT_STABILITY,
    FrameResult,
    VideoOptions,
    VideoResult,
    expected_frames,
    replace_in_film,
)
from background_replacement.video.frame_matting import (
    DEFAULT_SOLVE_PIXELS,
    SOLVE_PIXELS_HELP,
    FrameMatting,
    LocalMatting,
)
from background_replacement.video.media import VideoError, probe

# The names that notebooks and scripts import from here.
__all__ = ["FrameResult", "VideoOptions", "VideoResult", "main", "replace_background"]


def replace_background(foreground: str | Path, output: str | Path,
                       options: VideoOptions | None = None, *, server: str = DEFAULT_SERVER,
                       client: MattingClient | None = None, matting: FrameMatting | None = None,
                       progress: bool = True,
                       on_frame: Callable[[FrameResult], None] | None = None,
                       **option_values: Any) -> VideoResult:
    """Composite the people of ``foreground`` over a background into ``output``.

    ``options`` (``VideoOptions``: background, its end, stability, part, budget, effects …),
    or their fields as keywords (``background="beach.jpg", max_frames=10``) over them. Frames
    are matted by the service at ``server`` (or through ``client``), or by ``matting``
    (``LocalMatting`` runs the core in this process). ``on_frame`` sees every finished frame,
    in order; ``progress`` shows a bar. Raises ``MattingError`` or ``VideoError``; on any
    exception, including ``KeyboardInterrupt``, nothing is left under ``output``'s name or
    beside it.
    """
    foreground, output = Path(foreground), Path(output)
    options = dataclasses.replace(options or VideoOptions(), **option_values)
    stop = threading.Event()  # set when the job fails or is interrupted: no retry waits then
    if matting is None:
        matting = ServiceMatting(dataclasses.replace(client or MattingClient(server), stop=stop))
    bar = _progress_bar(progress, expected_frames(probe(foreground), options), output.name)

    def finished(frame: FrameResult) -> None:
        bar.update(1)
        if on_frame is not None:
            on_frame(frame)

    try:
        return replace_in_film(foreground, output, matting, options, finished)
    except BaseException:
        stop.set()
        raise
    finally:
        bar.close()


def _progress_bar(enabled: bool, total: int | None, name: str) -> tqdm:
    """Frames done, frames per second (also below one) and the time left."""
    return tqdm(total=total, unit="frame", desc=name, disable=not enabled, dynamic_ncols=True,
                smoothing=0.1, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                                         "[{elapsed}<{remaining}, {rate_noinv_fmt}]")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command's arguments, checked."""
    parser = argparse.ArgumentParser(prog="remove-background-video",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("foreground", type=Path, help="the video of people")
    parser.add_argument("output", type=Path,
                        help="the result: .mp4 (H.264), .webm (VP9 + alpha), .mov (ProRes 4444)")
    parser.add_argument("--background",
                        help="a video, an image, #rrggbb, blur, transparent or a name from the "
                             "service's backgrounds (default: green; transparent for .webm, .mov)")
    parser.add_argument("--background-end", choices=BACKGROUND_ENDS, default="loop",
                        help="when a background video is shorter: loop it (default), freeze its "
                             "last frame, or trim the output")
    add_server_argument(parser)
    add_api_key_argument(parser)
    parser.add_argument("--start", type=float, help="begin this many seconds in")
    parser.add_argument("--duration", type=float, help="process this many seconds")
    parser.add_argument("--max-frames", type=int, help="process at most this many frames")
    parser.add_argument("--in-flight", type=int,
                        help="frames matted at once (default: as many as the service works on "
                             "at once, from its /healthz; one a core with --local)")
    parser.add_argument("--local", action="store_true",
                        help="matte in this process with the core (SEGMENTER, MATTER, … as for "
                             "the services), without any service")
    parser.add_argument("--solve-pixels", type=int, default=DEFAULT_SOLVE_PIXELS,
                        help=SOLVE_PIXELS_HELP)
    parser.add_argument("--temporal-stability", action=argparse.BooleanOptionalAction,
                        default=True, help="smooth alpha over time on still parts of the "
                                           "picture (default: on)")
    add_effect_arguments(parser)
    args = parser.parse_args(argv)
    if args.in_flight is not None and args.in_flight < 1:
        parser.error("--in-flight must be at least 1")
    if args.solve_pixels < 0:
        parser.error("--solve-pixels must be 0 or more")
    if not args.foreground.is_file():
        parser.error(f"{args.foreground} does not exist")
    try:
        args.server = server_url(args.server)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        matting = LocalMatting.load() if args.local else None
        client = MattingClient(args.server, api_key=args.api_key)
        options = VideoOptions(
            background=args.background, background_end=args.background_end,
            stability=DEFAULT_STABILITY if args.temporal_stability else None,
            in_flight=args.in_flight, start=args.start, duration=args.duration,
            max_frames=args.max_frames, solve_pixels=args.solve_pixels,
            effects=effects_given(args))
        result = replace_background(args.foreground, args.output, options, client=client,
                                    matting=matting)
    except KeyboardInterrupt:
        print(f"interrupted: nothing was written to {args.output}", file=sys.stderr)
        return 130
    except (MattingError, VideoError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {result.path}: {result.frames} frames, {result.width}×{result.height}, "
          f"{float(result.rate):.3f} fps, audio {result.audio}, "
          f"{result.frames / result.seconds:.2f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
