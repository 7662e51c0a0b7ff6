"""Cut the people out of photos, by the matting service or (--local) in this process.

    remove-background INPUT OUTPUT [--background green] [--output-kind composite] [...]

INPUT is a photo, a folder (searched recursively) or - (stdin); OUTPUT a file (its extension
gives the format), a folder, or - (stdout). A folder's results mirror its tree in OUTPUT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from importlib import metadata
from pathlib import Path

from background_replacement.arguments import (
    add_effect_arguments,
    add_parameter_options,
    effects_given,
)
from background_replacement.background import DEFAULT_BACKGROUND, is_transparent_spec
from background_replacement.client.local_service import LocalService
from background_replacement.client.matting_client import (
    FALLBACK_IN_FLIGHT,
    MattingClient,
    MattingError,
    add_api_key_argument,
    add_server_argument,
    server_url,
)
from background_replacement.client.photos import (
    Job,
    Matting,
    PhotoService,
    Runner,
    background_field,
    is_background_name,
    summary,
)
from background_replacement.client.targets import (
    DEFAULT_FORMAT,
    EXTENSIONS,
    STDIO,
    format_for,
    plan_targets,
    renamed,
)
from background_replacement.client.watch import watch
from background_replacement.files import find_images
from background_replacement.params import (
    TRIMAP_PARAMETERS,
    TrimapParams,
)
from background_replacement.people import PeopleChoice, parse_points
from background_replacement.pipeline import NO_PERSON_CHOICES, OUTPUTS, check_format

PACKAGE = "background-replacement"
EXIT_STATUSES = """exit status:
  0    every photo was written (or skipped with --skip-existing); --watch stopped cleanly
  1    some photos failed (each is named on stderr with the service's message), or the
       service could not be reached
  2    usage error: bad option, missing input, or OUTPUT cannot take INPUT's results
  130  interrupted (Ctrl-C or SIGTERM) before every photo was done"""


class UsageError(ValueError):
    """The command line cannot work as written: exit status 2."""


def _version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _point(text: str) -> tuple[float, float]:
    """An argparse type for ``--point``: ``X,Y``."""
    try:
        [point] = parse_points(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be X,Y such as 120,300, got {text!r}") from None
    return point


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The command's options, each with its help."""
    parser = argparse.ArgumentParser(
        prog="remove-background", description=__doc__.split("\n\n")[0],
        epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, metavar="INPUT",
                        help="a photo, a folder of photos (recursively), or - to read stdin")
    parser.add_argument("output", type=Path, metavar="OUTPUT",
                        help="the result file (format from its extension), a folder (created "
                             "if missing; a photo into an existing folder becomes "
                             "FOLDER/NAME.png), or - to write stdout")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_what_arguments(parser)
    _add_people_arguments(parser)
    add_effect_arguments(parser)
    _add_run_arguments(parser)
    return parser


def _add_what_arguments(parser: argparse.ArgumentParser) -> None:
    """What to make: the background, the output's kind and format, nobody found."""
    what = parser.add_argument_group("what to make")
    what.add_argument("-b", "--background", default=DEFAULT_BACKGROUND,
                      help="a name from the service's backgrounds, a CSS colour (navy, #2040ff, "
                           "#24f, rgb(32,64,255)), blur, transparent, or the path of an image "
                           "(default: %(default)s)")
    what.add_argument("-k", "--output-kind", dest="kind", default=OUTPUTS[0], choices=OUTPUTS,
                      help="composite (people over the background), cutout (RGBA), alpha, "
                           "foreground or trimap (default: %(default)s)")
    what.add_argument("--output", dest="kind", choices=OUTPUTS,
                      help=argparse.SUPPRESS)  # the old name of --output-kind
    what.add_argument("-f", "--format", choices=sorted(EXTENSIONS),
                      help="png, jpeg or webp (default: from OUTPUT's extension; png for a "
                           "folder or stdout)")
    what.add_argument("--if-no-person", choices=NO_PERSON_CHOICES, default=None,
                      help="when nobody is found: error (the photo fails), original (the photo "
                           "unchanged) or empty (the background alone) (default: error)")


def _add_people_arguments(parser: argparse.ArgumentParser) -> None:
    """Which people, the hint, and the trimap's parameters."""
    people = parser.add_argument_group(
        "which people", "  the service's /people lists the people it finds, numbered from 0")
    people.add_argument("--people", metavar="WHO",
                        help="all (default), largest, or indices such as 0,2: the people "
                             "left out become background")
    people.add_argument("--point", dest="points", action="append", type=_point, metavar="X,Y",
                        help="keep the person under this pixel (from the top left); give it "
                             "again for more people")
    people.add_argument("--hint", type=Path, metavar="FILE",
                        help="corrections painted over one photo, an image of its size: black "
                             "removes, white keeps, grey lets the matting decide, transparent "
                             "changes nothing (the web page's brush makes the same)")
    trimap = parser.add_argument_group(
        "trimap", "  detection and trimap parameters: /matte's form fields of the same names;\n"
                  "  the service's defaults for those not given")
    add_parameter_options(trimap, TRIMAP_PARAMETERS)


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Folders (flat, skip, jobs, watch) and where the work is done (local or a server)."""
    folders = parser.add_argument_group("folders")
    folders.add_argument("--flat", action="store_true",
                         help="write every result straight into OUTPUT instead of mirroring "
                              "INPUT's subfolders")
    folders.add_argument("--skip-existing", action="store_true",
                         help="leave photos whose result file already exists")
    folders.add_argument("-j", "--jobs", type=_positive, metavar="N",
                         help="photos worked on at once (default: as many as the service "
                              "works on at once, from its /healthz; "
                              f"{FALLBACK_IN_FLIGHT} if it does not say; with --local, one a "
                              "core)")
    folders.add_argument("-w", "--watch", action="store_true",
                         help="after the photos already in INPUT (a folder), keep watching it "
                              "and process each new photo once it is completely written; "
                              "Ctrl-C or SIGTERM stops")
    where = parser.add_argument_group("where the work is done")
    where.add_argument("-l", "--local", action="store_true",
                       help="matte in this process with the core, no service needed "
                            "(SEGMENTER, MATTER, … from the environment as for the services); "
                            "--jobs are then threads sharing one set of models, and --server "
                            "and --api-key are not used")
    add_server_argument(where, "-s")
    add_api_key_argument(where)


def _fields(args: argparse.Namespace) -> dict[str, str]:
    """The optional form fields the command line gave: ``if_no_person``, the people to keep,
    the trimap parameters, checked together (bg below fg) as the service will, and the
    effects."""
    given = {name: getattr(args, name) for name in TRIMAP_PARAMETERS
             if getattr(args, name) is not None}
    try:
        TrimapParams(**given).validate()
        choice = PeopleChoice.of(PeopleChoice.parse(args.people), args.points or ())
    except ValueError as exc:
        raise UsageError(str(exc).replace("'people'", "--people")) from None
    fields = ({name: str(value) for name, value in given.items()} | choice.to_form()
              | effects_given(args).to_form())
    if args.if_no_person is not None:
        fields["if_no_person"] = args.if_no_person
    return fields


def _hint(args: argparse.Namespace, folder: bool) -> bytes | None:
    """The ``--hint`` file's bytes; ``UsageError`` for a folder or a file it cannot read."""
    if args.hint is None:
        return None
    if folder:
        raise UsageError("--hint is painted over one photo; INPUT is a folder")
    try:
        return args.hint.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --hint {args.hint}: {exc.strerror or exc}") from None


def _check_name(text: str, client: PhotoService) -> None:
    """A background written as a name must be one of the service's (a CSS colour name the
    service reads too); ``UsageError`` naming those it has."""
    if not is_background_name(text):
        return
    names = client.background_names()
    if text not in names:
        raise UsageError(f"--background {text!r} is no file, colour or background of the "
                         f"service's; it has: {', '.join(names) or 'none'}")


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _single(args: argparse.Namespace) -> tuple[Job, str]:
    """One photo (a file or stdin): its job and the format of its result."""
    if args.watch:
        raise UsageError("--watch needs a folder as INPUT")
    data = None
    if args.input == STDIO:
        if sys.stdin.isatty():
            raise UsageError("INPUT is - but nothing is piped into stdin")
        data = sys.stdin.buffer.read()
        if not data:
            raise UsageError("stdin is empty; pipe a photo into it")
    elif not args.input.is_file():
        raise UsageError(f"{args.input} does not exist" if not args.input.exists()
                         else f"{args.input} is neither a file nor a folder")
    source = None if args.input == STDIO else args.input
    if args.output == STDIO:
        if sys.stdout.isatty():
            raise UsageError("OUTPUT is - but stdout is a terminal; redirect it (> result.png)")
        return Job(source, None, data), args.format or DEFAULT_FORMAT
    target = args.output
    if target.is_dir():
        if source is None:
            raise UsageError("- (stdin) has no name to give its result in a folder; give "
                             "OUTPUT as a file name or -")
        fmt = args.format or DEFAULT_FORMAT
        target = target / f"{source.stem}{EXTENSIONS[fmt]}"
    else:
        try:
            fmt = format_for(target, args.format)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if source is not None and _same(source, target):
        raise UsageError(f"{target} is INPUT itself; give another OUTPUT")
    return Job(source, target, data), fmt


def _check_folders(args: argparse.Namespace) -> None:
    if args.output == STDIO:
        raise UsageError("a folder's results cannot go to stdout; give a folder as OUTPUT")
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"{args.output} is a file; a folder's results need a folder as OUTPUT")
    if _same(args.input, args.output):
        raise UsageError("OUTPUT is INPUT; results would overwrite the photos: give another "
                         "folder")


def _folder_jobs(args: argparse.Namespace, extension: str,
                 arrived: Path | None = None) -> tuple[list[Job], dict[Path, Path]]:
    """The jobs for INPUT's photos (only ``arrived`` when given; its name is planned among
    all of INPUT's photos), and which results were named apart."""
    sources = find_images(args.input, skip=args.output)
    if arrived is not None:
        arrived = arrived.relative_to(args.input.resolve())
        sources = sorted({*sources, arrived})
    targets = plan_targets(sources, extension, flat=args.flat)
    chosen = [arrived] if arrived is not None else sources
    jobs = [Job(args.input / source, args.output / targets[source]) for source in chosen]
    apart = renamed({source: targets[source] for source in chosen}, extension)
    return jobs, {args.input / source: args.output / target for source, target in apart.items()}


def _run_folder(args: argparse.Namespace, client: PhotoService, matting: Matting,
                jobs: int) -> int:
    """Every photo of INPUT, then with ``--watch`` each new one until stopped."""
    extension = EXTENSIONS[matting.fmt]
    batch, renames = _folder_jobs(args, extension)
    runner = Runner(client, matting, jobs=jobs, skip_existing=args.skip_existing,
                    total=len(batch))
    found = len(batch)
    try:
        runner.submit_all(batch)
        if args.watch:
            stop = client.stop
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())

            def hand_on(path: Path) -> None:
                nonlocal found
                (job,), apart = _folder_jobs(args, extension, arrived=path)
                renames.update(apart)
                found += 1
                runner.submit(job)

            watch(args.input, hand_on, stop, skip=args.output,
                  started=lambda: runner.say(f"watching {args.input} for new photos; "
                                             "Ctrl-C stops"))
        tally = runner.close(cancel=args.watch)
    except KeyboardInterrupt:
        client.stop.set()
        tally = runner.close(cancel=True)
        print(summary(tally, found, str(args.output), renames), file=sys.stderr)
        return 130
    print(summary(tally, found, str(args.output), renames), file=sys.stderr)
    return 1 if tally.failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM ends a run as Ctrl-C does: requests in flight finish, partial files are removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        try:
            client = (LocalService(stop=threading.Event()) if args.local else
                      MattingClient(server_url(args.server), api_key=args.api_key,
                                    stop=threading.Event()))
            background = background_field(args.background)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        fields = _fields(args)
        folder = args.input != STDIO and args.input.is_dir()
        if folder:
            _check_folders(args)
            job, fmt = None, args.format or DEFAULT_FORMAT
        else:
            job, fmt = _single(args)
        if isinstance(background, str):
            _check_name(background, client)
        try:
            check_format(fmt, args.kind, is_transparent_spec(background))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        matting = Matting(background, args.kind, fmt, fields, _hint(args, folder))
        if isinstance(client, LocalService):
            client.load()  # once, before any photo
        if folder:
            return _run_folder(args, client, matting,
                               args.jobs or client.max_in_flight() or FALLBACK_IN_FLIGHT)
        runner = Runner(client, matting, jobs=1, total=1, bar=False,
                        report=lambda line: print(line, file=sys.stderr))
        runner.submit(job)
        tally = runner.close()
        if tally.written:
            print(f"wrote {job.target or '- (stdout)'}", file=sys.stderr)
        elif tally.skipped:
            print(f"skipped: {job.target} is already there", file=sys.stderr)
        return 1 if tally.failed else 0
    except UsageError as exc:
        print(f"remove-background: error: {exc}", file=sys.stderr)
        return 2
    except MattingError as exc:
        print(f"remove-background: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
