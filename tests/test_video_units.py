"""The video client's parts without the services: compositing, temporal stability, timestamps,
rotation, background videos, the writer and its audio (real clips, real codecs)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
import pytest

from background_replacement.compositing import cover
from background_replacement.video.backdrops import VideoBackdrop
from background_replacement.video.media import (
    VideoError,
    VideoWriter,
    output_pts,
    pad_even,
    probe,
    read_frames,
    upright,
)
from background_replacement.video.temporal import AlphaStabilizer, TemporalStability
from tests.conftest import shared_data


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg binary that imageio-ffmpeg bundles."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    *map(str, args)], check=True, timeout=120)


@pytest.fixture(scope="module")
def thanks_rgb() -> np.ndarray:
    """The first frame of a real clip, RGB 480×640."""
    return next(read_frames(shared_data("videos", "asl_thanks.mkv"))).rgb


@pytest.fixture(scope="module")
def five_frames(tmp_path_factory) -> Path:
    """Five clearly different frames of asl_walk (half a second apart), as a 10 fps clip."""
    path = tmp_path_factory.mktemp("clips") / "five.mp4"
    ffmpeg("-i", shared_data("videos", "asl_walk.mkv"), "-vf",
           r"select=not(mod(n\,15)),setpts=N/(10*TB)", "-r", "10", "-frames:v", "5",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", path)
    return path


def flicker(alphas: list[np.ndarray], where: np.ndarray) -> float:
    """Mean |alpha_t − alpha_t−1| over ``where``."""
    return float(np.mean([np.abs(b - a)[where].mean() for a, b in pairwise(alphas)]))


def test_stability_calms_a_still_picture_and_follows_motion_at_once(thanks_rgb):
    rng = np.random.default_rng(1)
    height, width = thanks_rgb.shape[:2]
    base = np.zeros((height, width), np.float32)
    base[:, width // 2:] = 1.0
    band = np.zeros_like(base, dtype=bool)
    band[:, width // 2 - 20:width // 2 + 20] = True
    stabilizer = AlphaStabilizer(TemporalStability())
    raw, smoothed = [], []
    for _ in range(12):  # a still picture whose matte shimmers along the edge
        alpha = base.copy()
        alpha[band] = np.clip(alpha[band] + rng.normal(0, 0.15, band.sum()), 0, 1)
        raw.append(alpha)
        smoothed.append(stabilizer(thanks_rgb, alpha, people_count=1).copy())
    assert flicker(smoothed, band) < 0.5 * flicker(raw, band)

    # The picture moves: where it changed, alpha is the service's own, not a blend with history.
    moved_rgb = np.roll(thanks_rgb, 40, axis=1)
    moved_alpha = np.roll(base, 40, axis=1)
    result = stabilizer(moved_rgb, moved_alpha, people_count=1)
    changed = np.abs(moved_rgb.astype(int) - thanks_rgb).max(axis=2) > 40
    assert changed.mean() > 0.05
    assert np.array_equal(result[changed], moved_alpha[changed])

    # Nobody found: the matte is exactly empty, whatever came before.
    empty = stabilizer(moved_rgb, np.zeros_like(base), people_count=0)
    assert not empty.any()


def test_stability_parameters_are_checked():
    with pytest.raises(ValueError):
        TemporalStability(strength=1.0)
    with pytest.raises(ValueError):
        TemporalStability(still_below=12, moving_above=3)


def test_output_timestamps_keep_every_frame_in_order():
    rate = Fraction(30000, 1001)
    times = [Fraction(i * 1001, 30000) for i in range(5)]
    pts: list[int] = []
    for time in times:
        pts.append(output_pts(time, times[0], rate, pts[-1] if pts else None))
    assert pts == [0, 1, 2, 3, 4]
    # Milliseconds (Matroska) land on the same grid.
    assert [output_pts(Fraction(ms, 1000), Fraction(0), rate, None) for ms in (33, 67, 100)] \
        == [1, 2, 3]
    # Two frames that round to one slot: the second moves on, nothing is dropped.
    assert output_pts(Fraction(1, 100), Fraction(0), rate, 0) == 1


def test_pad_even_repeats_the_edge():
    odd = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    padded = pad_even(odd)
    assert padded.shape == (4, 6, 3)
    assert np.array_equal(padded[:3, :5], odd) and np.array_equal(padded[3, :5], odd[2])
    assert pad_even(padded) is padded


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotated_video_is_read_upright_like_ffmpeg_shows_it(tmp_path, degrees):
    plain, rotated = tmp_path / "plain.mp4", tmp_path / f"rotated{degrees}.mp4"
    ffmpeg("-i", shared_data("videos", "asl_thanks.mkv"), "-frames:v", "2", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", plain)
    ffmpeg("-display_rotation", degrees, "-i", plain, "-c", "copy", rotated)
    info = probe(rotated)
    assert info.rotation == degrees
    assert (info.width, info.height) == ((480, 640) if degrees in (90, 270) else (640, 480))
    shown = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i",
                            str(rotated), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
                            "rgb24", "-"], capture_output=True, check=True).stdout
    expected = np.frombuffer(shown, np.uint8).reshape(info.height, info.width, 3)
    ours = next(read_frames(rotated)).rgb
    assert ours.shape == expected.shape
    assert np.abs(ours.astype(int) - expected).mean() < 2.0  # FFmpeg rounds a level darker
    with pytest.raises(VideoError):
        upright(ours, 45)


@pytest.mark.parametrize("end", ["loop", "freeze", "trim"])
def test_background_video_by_time_loop_freeze_trim(five_frames, end):
    frames = [cover(f.rgb, 432, 768) for f in read_frames(five_frames)]
    assert len(frames) == 5
    backdrop = VideoBackdrop(five_frames, 768, 432, end=end, foreground_rate=Fraction(10))
    blank = np.zeros((432, 768, 3), np.uint8)
    for i in range(12):
        shown = backdrop.behind(Fraction(i, 10), blank, np.zeros((432, 768), np.float32))
        if i < 5:
            assert np.array_equal(shown, frames[i])
        elif end == "loop":
            assert np.array_equal(shown, frames[i % 5])
        elif end == "freeze":
            assert np.array_equal(shown, frames[4])
        else:
            assert shown is None


def test_background_video_matches_a_faster_foreground_by_time(five_frames):
    frames = [f.rgb for f in read_frames(five_frames)]
    backdrop = VideoBackdrop(five_frames, 640, 480, foreground_rate=Fraction(30))
    blank = np.zeros((480, 640, 3), np.uint8)
    for i in range(15):  # 30 fps over 10 fps: each background frame three times
        shown = backdrop.behind(Fraction(i, 30), blank, np.zeros((480, 640), np.float32))
        assert np.array_equal(shown, frames[i // 3])


def test_writer_renames_only_when_done_and_discards_otherwise(tmp_path, thanks_rgb):
    target = tmp_path / "out.mp4"
    writer = VideoWriter(target, width=641, height=479, rate=Fraction(25), transparent=False)
    for pts in range(3):
        writer.write(np.ascontiguousarray(thanks_rgb[:479, :641]), pts)
    assert not target.exists() and writer.temporary.exists()
    assert writer.temporary.name.startswith(".out.") and writer.temporary.parent == tmp_path
    with pytest.raises(ValueError):
        writer.write(thanks_rgb[:479, :641], 2)  # timestamps must increase
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.format.name) == ("h264", "yuv420p")
        assert (stream.width, stream.height) == (642, 480)  # 4:2:0 needs even sides
        assert sum(1 for _ in container.decode(stream)) == 3

    broken = VideoWriter(tmp_path / "broken.webm", width=64, height=48, rate=Fraction(10),
                         transparent=True)
    broken.write(np.zeros((48, 64, 4), np.uint8), 0)
    broken.discard()
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]

    with pytest.raises(VideoError, match="alpha"):
        VideoWriter(tmp_path / "clear.mp4", width=64, height=48, rate=Fraction(10),
                    transparent=True)
    with pytest.raises(VideoError, match=r"\.mp4"):
        VideoWriter(tmp_path / "film.avi", width=64, height=48, rate=Fraction(10),
                    transparent=False)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def audio_samples(path: Path) -> tuple[str, int, int]:
    """(codec, sample rate, decoded samples) of a file's first audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, stream.codec_context.sample_rate, samples


def test_audio_cut_to_a_part_of_the_video_to_the_sample(tmp_path):
    source = tmp_path / "talk.mkv"
    ffmpeg("-i", shared_data("videos", "asl_thanks.mkv"), "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=44100", "-t", "1", "-c:v", "copy", "-c:a", "aac",
           "-shortest", source)
    rate = probe(source).rate
    target = tmp_path / "part.mov"  # PCM: sample-exact, so the cut can be checked exactly
    writer = VideoWriter(target, width=64, height=48, rate=rate, transparent=False,
                         audio_source=source, copy_audio=False)
    writer.audio.begin(Fraction(1, 5))  # the part starts 0.2 s in
    for pts in range(9):
        writer.write(np.zeros((48, 64, 3), np.uint8), pts)
        writer.audio.write_until(Fraction(pts) / rate)
    writer.close(end=Fraction(9) / rate)
    codec, sample_rate, samples = audio_samples(target)
    assert (codec, sample_rate) == ("pcm_s16le", 44100)
    assert samples == round(Fraction(9) / rate * 44100)
