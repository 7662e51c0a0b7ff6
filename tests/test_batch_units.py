"""The batch engine's pieces that need no Ray: atomic results, the manifest, inputs and their
names, the video's segments."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from background_replacement.batch.inputs import (
    common_root,
    folder_photos,
    listed_photos,
    photo_inputs,
)
from background_replacement.batch.results import (
    PARTIAL,
    Manifest,
    Record,
    partial_path,
    remove_partials,
    write_atomically,
)
from background_replacement.batch.video import HALF_LEVEL, plan_segments, warm_up_frames
from background_replacement.params import NO_EFFECTS, Effects
from background_replacement.video.temporal import TemporalStability


def test_a_result_appears_whole_under_its_name_and_nothing_else_is_left(tmp_path):
    target = tmp_path / "deep" / "photo.png"
    digest = write_atomically(target, b"first")
    again = write_atomically(target, b"first")  # a task that ran twice
    assert digest == again and target.read_bytes() == b"first"
    assert [p.name for p in target.parent.iterdir()] == ["photo.png"]


def test_only_the_workers_temporary_files_are_removed(tmp_path):
    left = partial_path(tmp_path / "a" / "photo.png")
    left.parent.mkdir()
    left.write_bytes(b"half")
    assert PARTIAL.match(left.name)
    kept = [tmp_path / ".hidden.png", tmp_path / "photo.partial.png", tmp_path / "x.png"]
    for path in kept:
        path.write_bytes(b"mine")
    assert remove_partials(tmp_path) == 1
    assert not left.exists() and all(path.exists() for path in kept)


def test_the_manifest_lists_only_intact_outputs_and_survives_a_cut_line(tmp_path):
    manifest = Manifest(tmp_path)
    for name in ("a", "b", "c"):
        digest = write_atomically(tmp_path / f"{name}.png", name.encode())
        manifest.append(Record(f"{name}.jpg", f"{name}.png", digest))
    (tmp_path / "b.png").write_bytes(b"changed")
    (tmp_path / "c.png").unlink()
    manifest.close()
    with manifest.path.open("a") as file:
        file.write('{"input": "d.jpg", "outp')  # a crash in the middle of a line
    assert list(manifest.done()) == ["a.jpg"]
    lines = manifest.path.read_text().splitlines()
    assert json.loads(lines[0]) == {"input": "a.jpg", "output": "a.png",
                                    "sha256": Manifest(tmp_path).done()["a.jpg"].sha256}


def test_inputs_from_a_folder_and_from_a_list(tmp_path):
    photos = tmp_path / "in"
    for name in ("b/one.jpg", "a.png", ".hidden.jpg", "notes.txt", "out/old.png"):
        (photos / name).parent.mkdir(parents=True, exist_ok=True)
        (photos / name).write_bytes(b"x")
    found = folder_photos(photos, skip=photos / "out")
    assert [p.relative_to(photos).as_posix() for p in found] == ["a.png", "b/one.jpg"]
    named = photo_inputs(found, photos, ".webp")
    assert [(p.name, p.output) for p in named] == [("a.png", "a.webp"),
                                                   ("b/one.jpg", "b/one.webp")]
    listing = tmp_path / "todo.txt"
    listing.write_text("# photos\nin/b/one.jpg\n\nin/a.png\n")
    listed = listed_photos(listing)
    assert common_root(listed) == photos.resolve()
    listing.write_text("in/missing.jpg\n")
    with pytest.raises(ValueError, match=r"todo\.txt:1"):
        listed_photos(listing)


def test_two_photos_that_would_share_an_output_are_refused(tmp_path):
    with pytest.raises(ValueError, match="both"):
        photo_inputs([tmp_path / "a.jpg", tmp_path / "a.png"], tmp_path, ".png")


def test_the_warm_up_makes_a_cold_start_vanish_under_half_a_level():
    for strength in (0.5, 0.8, 0.95):
        frames = warm_up_frames(TemporalStability(strength=strength))
        assert strength ** frames < HALF_LEVEL <= strength ** (frames - 1)
    assert warm_up_frames(TemporalStability()) == 28
    assert warm_up_frames(None) == 0


@settings(deadline=None)
@given(frames=st.integers(1, 600), rate=st.sampled_from([Fraction(30), Fraction(30000, 1001),
                                                           Fraction(10), Fraction(25)]),
       seconds=st.integers(1, 20))
def test_segments_take_every_frame_once(frames, rate, seconds):
    duration = Fraction(frames) / rate
    segments = plan_segments(duration, rate, Fraction(seconds), 28)
    for index in range(frames):
        places = [s.place(Fraction(index) / rate, rate) for s in segments]
        assert places.count(0) == 1
        assert places == sorted(places, reverse=True)  # after the earlier, before the later
    assert segments[0].start == 0 and segments[-1].end is None
    for segment in segments:
        assert segment.warm_start == max(0, segment.start - Fraction(28) / rate)


def test_a_video_of_unknown_length_is_one_segment():
    [whole] = plan_segments(None, Fraction(30), Fraction(10), 28)
    assert whole.start == 0 and whole.end is None


def test_results_are_named_inside_the_destination(tmp_path):
    outside = Path("/elsewhere/x.jpg")
    [named] = photo_inputs([outside], tmp_path, ".png")
    assert named.output == "elsewhere/x.png"


@pytest.mark.slow
@pytest.mark.parametrize("effects", [NO_EFFECTS, Effects(harmonise=0.8, light_wrap=0.6,
                                                         shadow=0.7)], ids=["plain", "effects"])
def test_a_video_in_one_segment_comes_out_as_client_video_makes_it(tmp_path, effects):
    """Batch drives the video command's engine (each frame within its per-frame budget of
    pixels, the effects held steady) and sink: a 640×480 clip, matted whole by a worker and
    joined, gives the video command's frames within 1/255."""
    import imageio_ffmpeg

    from background_replacement.batch.video import Segment, first_frame_time, join_segments
    from background_replacement.batch.worker import JobOptions, Worker
    from background_replacement.client.video import replace_background
    from background_replacement.video.frame_matting import DEFAULT_SOLVE_PIXELS, LocalMatting
    from background_replacement.video.media import probe, read_frames
    from tests.conftest import shared_data

    clip = tmp_path / "thanks.mkv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
                    "-i", str(shared_data("videos", "asl_thanks.mkv")), "-frames:v", "12",
                    "-an", "-c:v", "ffv1", str(clip)], check=True, timeout=120)
    info = probe(clip)
    assert info.width * info.height > DEFAULT_SOLVE_PIXELS, "a frame the budget shrinks"
    worker = Worker(JobOptions({"segmenter": "selfie", "matter": "closed-form"},
                               background="green", effects=effects), threads=0)
    done = worker.segment(str(clip), Segment(0, Fraction(0), None, Fraction(0)),
                          first_frame_time(clip), info, str(tmp_path / "whole.mkv"))
    batch = tmp_path / "batch.mov"
    join_segments([(tmp_path / "whole.mkv", done.times)], clip, info, batch, False)
    command = replace_background(clip, tmp_path / "command.mov", background="green",
                                 matting=LocalMatting(worker.replacer), progress=False,
                                 effects=effects)
    assert command.frames == len(done.times) == 12
    for ours, theirs in zip(read_frames(batch), read_frames(command.path), strict=True):
        # Equal here; the bound leaves room for a solver's thread-order rounding only (matted
        # at full size, as batch once did, 2.2 % of pixels were over 2 levels off).
        off = np.abs(ours.rgb.astype(np.int16) - theirs.rgb.astype(np.int16))
        assert off.max() <= 1, (off.max(), np.mean(off > 0))


def test_a_transparent_result_in_jpeg_is_refused_before_anything_starts(tmp_path, capsys):
    from background_replacement.batch.cli import parse_arguments

    photos = tmp_path / "in"
    photos.mkdir()
    for asked in (["--background", "transparent"], ["--output", "cutout"]):
        with pytest.raises(SystemExit) as stopped:
            parse_arguments([str(photos), str(tmp_path / "out"), "--format", "jpeg", *asked])
        assert stopped.value.code == 2
        assert "JPEG has no alpha channel" in capsys.readouterr().err
    for fine in (["--format", "webp", "--background", "transparent"], ["--format", "jpeg"]):
        assert parse_arguments([str(photos), str(tmp_path / "out"), *fine]).input == photos


@pytest.mark.slow
def test_a_photo_takes_the_effects_the_command_line_gives(tmp_path):
    from background_replacement.batch.cli import job_options, parse_arguments
    from background_replacement.batch.worker import Worker
    from background_replacement.images import encode_image
    from tests.conftest import shared_data

    photos = tmp_path / "in"
    photos.mkdir()
    args = parse_arguments([str(photos), str(tmp_path / "out"), "--background", "sky",
                            "--harmonise", "0.9", "--shadow", "0.8", "--segmenter", "selfie",
                            "--matter", "closed-form"])
    options = job_options(args, video=False)
    assert options.effects == Effects(harmonise=0.9, shadow=0.8)
    worker = Worker(options, threads=0)
    photo = next(shared_data("portraits-dev", "images").glob("*.jpg"))
    with_effects = worker.photo_bytes(photo)
    assert with_effects == encode_image(worker.replacer.replace_array(
        photo, background="sky", effects=options.effects), "png")
    assert with_effects != encode_image(worker.replacer.replace_array(photo, background="sky"),
                                        "png")
