"""Video end to end: real clips from ../shared/data/videos through both services as real
processes (embedded backends), the command, the notebook, Ctrl-C and an overloaded service."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

from background_replacement.background import BACKGROUNDS_DIR
from background_replacement.client.matting_client import MattingClient, MattingError
from background_replacement.client.video import FrameResult, replace_background
from background_replacement.compositing import blurred_background, cover
from background_replacement.params import Effects
from background_replacement.video.media import read_frames
from testing.commands import VIDEO_COMMAND
from testing.launcher import ROOT, free_port
from tests.conftest import shared_data

pytestmark = pytest.mark.slow

# one-by-one-person-detection.mp4 at 10 fps: from 44.5 s a person's leg leaves the picture on the
# right; from 45.0 s to past 46 s the room is empty. Found by sending every frame to the
# segmentation service's /trimap with allow_empty=true and reading X-People-Count (0 from frame
# 450, whose trimap has no unknown pixel left).
EMPTY_ROOM_START, EMPTY_ROOM_FROM = Fraction("44.5"), Fraction(45)


def ffmpeg(*args: object) -> None:
    """Run the ffmpeg binary that imageio-ffmpeg bundles."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    *map(str, args)], check=True, timeout=120)


def decoded(path: Path) -> list[np.ndarray]:
    return [frame.rgb for frame in read_frames(path)]


def audio_samples(path: Path) -> tuple[str, int, int]:
    """(codec, sample rate, decoded samples) of a file's first audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, stream.codec_context.sample_rate, samples


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Short inputs cut from the real clips with the bundled ffmpeg."""
    folder = tmp_path_factory.mktemp("clips")
    talking = folder / "thanks-29.97-with-sound.mp4"  # 11 frames at 30000/1001 fps + a tone
    ffmpeg("-i", shared_data("videos", "asl_thanks.mkv"), "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=48000", "-t", "0.4", "-vf", "fps=30000/1001",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", talking)
    five = folder / "walk-five-frames.mp4"  # 0.5 s: five clearly different frames at 10 fps
    ffmpeg("-i", shared_data("videos", "asl_walk.mkv"), "-vf",
           r"select=not(mod(n\,15)),setpts=N/(10*TB)", "-r", "10", "-frames:v", "5",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", five)
    return {"talking": talking, "five": five}


# --- the command on a 29.97 fps clip with sound, over a background video ---------------------

@pytest.fixture(scope="module")
def command_run(matting_service, clips, tmp_path_factory) -> tuple[Path, str]:
    target = tmp_path_factory.mktemp("command") / "result.mp4"
    done = subprocess.run([*VIDEO_COMMAND, str(clips["talking"]),
                           str(target), "--background",
                           str(shared_data("videos", "asl_hungry.mkv")),
                           "--server", matting_service.url],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return target, done.stdout


def test_output_keeps_size_frame_rate_and_frame_count(command_run, clips):
    target, stdout = command_run
    assert "wrote" in stdout and "11 frames" in stdout
    with av.open(str(clips["talking"])) as source, av.open(str(target)) as result:
        original, written = source.streams.video[0], result.streams.video[0]
        assert written.average_rate == original.average_rate == Fraction(30000, 1001)
        assert (written.width, written.height) == (original.width, original.height)
        assert (written.codec_context.name, written.format.name) == ("h264", "yuv420p")
        assert sum(1 for _ in result.decode(written)) == sum(1 for _ in source.decode(original))


def test_output_is_the_people_over_the_matching_background_frame(command_run, clips):
    target, _ = command_run
    frames = decoded(target)
    people = decoded(clips["talking"])
    backgrounds = decoded(shared_data("videos", "asl_hungry.mkv"))
    for i, frame in enumerate(frames):
        # Upper left: the office behind the signer, replaced by the other video's office.
        corner = (slice(0, 60), slice(0, 60))
        assert np.abs(frame[corner].astype(int) - backgrounds[i][corner]).mean() < 4
        # The signer's chest stays the signer's.
        chest = (slice(300, 340), slice(300, 340))
        assert np.abs(frame[chest].astype(int) - people[i][chest]).mean() < 4


def test_sound_is_kept_with_its_duration(command_run, clips):
    target, stdout = command_run
    assert "audio copied (aac)" in stdout
    assert audio_samples(target) == audio_samples(clips["talking"])


@pytest.fixture(scope="module")
def local_run(clips, tmp_path_factory) -> tuple[Path, str]:
    """The same command with --local: the core in the command's own process, no service (the
    server it names has nothing listening)."""
    target = tmp_path_factory.mktemp("local") / "result.mp4"
    done = subprocess.run([*VIDEO_COMMAND, str(clips["talking"]),
                           str(target), "--background",
                           str(shared_data("videos", "asl_hungry.mkv")), "--local",
                           "--server", f"http://127.0.0.1:{free_port()}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SEGMENTER": "selfie", "MATTER": "closed-form"})
    assert done.returncode == 0, done.stderr
    return target, done.stdout


def test_local_mode_writes_what_the_services_write(local_run, command_run):
    target, stdout = local_run
    assert "11 frames" in stdout and "audio copied (aac)" in stdout
    local, served = decoded(target), decoded(command_run[0])
    assert len(local) == len(served) == 11
    for mine, theirs in zip(local, served, strict=True):
        assert np.abs(mine.astype(int) - theirs).mean() < 1.0


# --- nobody in the room, over a background video shorter than the foreground ------------------

@pytest.fixture(scope="module")
def empty_room(matting_service, clips, tmp_path_factory) -> tuple[Path, list[FrameResult]]:
    target = tmp_path_factory.mktemp("empty") / "room.mp4"
    results: list[FrameResult] = []
    replace_background(shared_data("videos", "one-by-one-person-detection.mp4"), target,
                       background=str(clips["five"]), server=matting_service.url,
                       start=EMPTY_ROOM_START, duration=Fraction("1.2"), progress=False,
                       on_frame=results.append)
    return target, results


def test_frames_with_nobody_are_the_background_frames(empty_room, clips):
    target, results = empty_room
    frames = decoded(target)
    background = [cover(rgb, 432, 768) for rgb in decoded(clips["five"])]
    assert len(frames) == len(results) == 12
    empty = [r.index for r in results if r.people_count == 0]
    assert empty[-7:] == list(range(5, 12))  # from 45.0 s: the empty room
    for i in empty:
        error = np.abs(frames[i].astype(int) - background[i % 5])
        assert error.mean() < 2.0, (i, error.mean())  # H.264 twice
        assert np.percentile(error, 99.9) < 24, (i, np.percentile(error, 99.9))
        assert not results[i].alpha.any()


def test_shorter_background_video_loops(empty_room, clips):
    target, _ = empty_room
    frames = decoded(target)
    background = [cover(rgb, 432, 768) for rgb in decoded(clips["five"])]
    for i, frame in enumerate(frames):
        errors = [np.abs(frame.astype(int) - b).mean() for b in background]
        nearest = int(np.argmin(errors))
        others = min(e for k, e in enumerate(errors) if k != nearest)
        assert nearest == i % 5 and errors[nearest] < 0.5 * others, (i, errors)


@pytest.mark.parametrize("background", ["blur", "sky", "#2040ff"])
def test_other_backgrounds_behind_an_empty_room(matting_service, tmp_path, background):
    room = shared_data("videos", "one-by-one-person-detection.mp4")
    target = tmp_path / "room.mp4"
    replace_background(room, target, background=background, server=matting_service.url,
                       start=EMPTY_ROOM_FROM, duration=Fraction("0.3"), progress=False)
    originals = [frame.rgb for frame in read_frames(room, start=EMPTY_ROOM_FROM,
                                                    end=EMPTY_ROOM_FROM + Fraction("0.3"))]
    frames = decoded(target)
    assert len(frames) == len(originals) == 3
    for frame, original in zip(frames, originals, strict=True):
        if background == "blur":  # nobody there: the whole frame is its own background, blurred
            expected = blurred_background(original, np.zeros(original.shape[:2], np.float32))
        elif background == "sky":  # as the service renders its named background
            sky = np.asarray(Image.open(BACKGROUNDS_DIR / "sky.png").convert("RGB"))
            expected = cover(sky, 432, 768)
        else:
            expected = np.broadcast_to(np.array([0x20, 0x40, 0xFF], np.uint8), frame.shape)
        assert np.abs(frame.astype(int) - expected).mean() < 2.0


# --- transparent video for editors --------------------------------------------------------------

def alpha_planes(path: Path) -> list[np.ndarray]:
    """The alpha channel of every frame; VP9's alpha needs libvpx's decoder."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.codec_context.name == "vp9":
            decoder = av.CodecContext.create("libvpx-vp9", "r")
            frames = [f for packet in container.demux(stream) for f in decoder.decode(packet)]
        else:
            frames = list(container.decode(stream))
        return [f.to_ndarray(format="rgba")[:, :, 3] for f in frames]


@pytest.mark.parametrize(("suffix", "codec", "audio_codec", "tolerance"),
                         [(".webm", "vp9", "opus", 6.0), (".mov", "prores", "pcm_s16le", 1.0)])
def test_transparent_output_carries_the_matte(matting_service, clips, tmp_path, suffix, codec,
                                               audio_codec, tolerance):
    target = tmp_path / f"cutout{suffix}"
    results: list[FrameResult] = []
    result = replace_background(clips["talking"], target, server=matting_service.url,
                                max_frames=3, progress=False, on_frame=results.append)
    assert result.transparent and result.frames == 3
    with av.open(str(target)) as container:
        assert container.streams.video[0].codec_context.name == codec
    alphas = alpha_planes(target)
    assert len(alphas) == 3
    for alpha, frame in zip(alphas, results, strict=True):
        expected = frame.alpha * 255.0
        assert np.abs(alpha - expected).mean() < tolerance
        assert alpha[:40, :40].max() <= 8 and alpha[300:340, 300:340].min() >= 247
    # A part of the clip: its sound is cut where the picture ends (Opus to 20 ms, PCM exactly).
    codec_name, rate, samples = audio_samples(target)
    assert codec_name == audio_codec
    picture = Fraction(3 * 1001, 30000)
    assert abs(samples - picture * rate) <= (0.02 * rate if codec_name == "opus" else 1)


# --- the notebook --------------------------------------------------------------------------------

def test_notebook_runs_top_to_bottom(matting_service, clips, tmp_path):
    notebook = nbformat.read(ROOT / "client" / "video.ipynb", as_version=4)
    position = next(i for i, cell in enumerate(notebook.cells)
                    if "parameters" in cell.metadata.get("tags", []))
    target = tmp_path / "notebook.mp4"
    notebook.cells.insert(position + 1, nbformat.v4.new_code_cell(
        f"FOREGROUND = {str(clips['talking'])!r}\n"
        f"BACKGROUND = {str(clips['five'])!r}\n"
        f"OUTPUT = {str(target)!r}\n"
        f"SERVER = {matting_service.url!r}\n"
        "MAX_FRAMES = 3\n"))
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "client")}}).execute()
    assert sum(1 for _ in read_frames(target)) == 3
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 3
    assert any(str(target) in output.get("text", "") for output in outputs)


# --- Ctrl-C ---------------------------------------------------------------------------------------

def test_ctrl_c_leaves_no_file(matting_service, tmp_path):
    target = tmp_path / "long.mp4"
    process = subprocess.Popen([*VIDEO_COMMAND, str(shared_data("videos", "asl_walk.mkv")),
                                str(target), "--server", matting_service.url],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # a few frames into the film
        partial = list(tmp_path.iterdir())
        assert partial and partial[0].name.startswith(".long.") and partial[0].stat().st_size
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert list(tmp_path.iterdir()) == []


# --- an overloaded service: 503 + Retry-After ----------------------------------------------------

def test_overloaded_service_is_waited_for_and_retried(start_service, segmentation_service,
                                                      tmp_path):
    busy = start_service("matting_api", {"MATTER": "closed-form", "MAX_IN_FLIGHT": "1",
                                         "RETRY_AFTER": "1", "QUEUE_TIMEOUT": "0",
                                         "SEGMENTATION_URL": segmentation_service.url})
    empty_room = shared_data("videos", "one-by-one-person-detection.mp4")
    try:
        # Three frames in flight at a service that takes one: refused, then retried.
        result = replace_background(empty_room, tmp_path / "patient.mp4", background="#000000",
                                    client=MattingClient(busy.url), in_flight=3,
                                    start=EMPTY_ROOM_FROM, duration=Fraction("0.6"),
                                    progress=False)
        assert result.frames == 6
        assert re.search(r'POST /matte HTTP/1\.1\S*" 503', busy.log())  # werkzeug's log
        # Retries are bounded: with none allowed, the refusal is the error, and no file is left.
        with pytest.raises(MattingError, match="503"):
            replace_background(empty_room, tmp_path / "impatient.mp4", background="#000000",
                               client=MattingClient(busy.url, retries=0), in_flight=3,
                               start=EMPTY_ROOM_FROM, duration=Fraction("0.6"), progress=False)
        assert [p.name for p in tmp_path.iterdir()] == ["patient.mp4"]
    finally:
        busy.stop()


def test_effects_over_a_colour_and_on_the_command_line(matting_service, clips, tmp_path):
    """The shadow reaches the video's frames (harmonisation has no light to take from a
    colour), only darkens them, and the command refuses an effect out of range."""
    frames: dict[str, list[np.ndarray]] = {"plain": [], "shadow": []}
    for label, effects in (("plain", Effects()), ("shadow", Effects(harmonise=1.0, shadow=1.0,
                                                                    shadow_angle=-45))):
        replace_background(clips["talking"], tmp_path / f"{label}.mp4", background="#404080",
                           server=matting_service.url, max_frames=4, progress=False,
                           effects=effects,
                           on_frame=lambda result, key=label: frames[key].append(result.pixels))
    darker = [plain.astype(int) - shadow for plain, shadow
              in zip(frames["plain"], frames["shadow"], strict=True)]
    assert all(d.min() >= 0 and d.max() > 15 for d in darker)
    done = subprocess.run([*VIDEO_COMMAND, str(clips["talking"]),
                           str(tmp_path / "x.mp4"), "--shadow", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "must be between 0 and 1" in done.stderr
