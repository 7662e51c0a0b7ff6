"""The batch command on a real two-node Ray cluster that loses a node: a head and a worker node
(one CPU each) inside a network namespace that has only loopback, the command run against it,
every process of the worker node killed with SIGKILL mid-job and no node started in its place. The
results must be exactly those of one process running the core.

Every Ray process and the batch driver run inside the namespace (Ray binds to the machine's
routable address otherwise). Each carries this test's own marker in its environment, besides
``BGREPLACE_TEST_RUN``; the test kills every process with its marker by PID when it ends.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from testing.launcher import running
from testing.ray_cluster import Cluster, namespaces_available, short_folder, with_marker
from tests.conftest import shared_data

pytestmark = pytest.mark.slow

EMBEDDED = ["--segmenter", "selfie", "--matter", "closed-form"]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A head and a worker node, one CPU each, in a loopback-only namespace; every process of
    it killed at the end."""
    if not namespaces_available():
        pytest.skip("a loopback-only network namespace needs root, unshare and nsenter")
    nodes = Cluster(short_folder())
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()
        assert not with_marker(nodes.token), "processes of the cluster survived"
        shutil.rmtree(nodes.folder, ignore_errors=True)


def run_batch_killing_worker(cluster: Cluster, arguments: list[str], destination: Path,
                             pattern: str, after: int, timeout: float = 150) -> str:
    """Run the batch command in the namespace against the cluster; SIGKILL every process of the
    worker node once ``after`` files match ``pattern`` under ``destination``. Returns its output;
    fails unless it exits 0 after moving the lost node's tasks to the head."""
    log = cluster.folder / "driver.log"
    with log.open("wb") as sink:
        driver = cluster.inside([sys.executable, "-m", "batch", *arguments, str(destination),
                                 "--address", cluster.address, "--no-progress", *EMBEDDED],
                                "driver", stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while len(list(destination.glob(pattern))) < after:
            assert driver.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the job made too little progress"
            time.sleep(0.05)
        lost = cluster.lose_node("worker")
        try:
            driver.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail("the job did not finish after the node was lost:\n"
                        + log.read_text(errors="replace")[-3000:])
    output = log.read_text(errors="replace")
    assert not any(running(str(pid)) for pid in lost)
    assert driver.returncode == 0, output[-3000:]
    moved = re.search(r"(\d+) task\(s\) moved from lost workers", output)
    assert moved and int(moved[1]) >= 1, output[-3000:]
    return output


def manifest_lines(destination: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in
            (destination / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def hidden_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*")]


# --- 20 photos -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def portraits() -> list[Path]:
    return sorted(shared_data("portraits-dev", "images").glob("*.jpg"))


@pytest.fixture(scope="module")
def one_process_results(portraits) -> dict[str, bytes]:
    """Each portrait through the core in this process, encoded as the batch encodes it."""
    from background_replacement import BackgroundReplacer
    from background_replacement.service_common.uploads import encode_image

    replacer = BackgroundReplacer({"segmenter": "selfie", "matter": "closed-form"})
    return {f"{p.stem}.png": encode_image(replacer.replace_array(p), "png") for p in portraits}


def test_photos_survive_a_lost_node_exactly_once(cluster, portraits, one_process_results,
                                                 tmp_path):
    source, destination = portraits[0].parent, tmp_path / "out"
    output = run_batch_killing_worker(cluster, [str(source)], destination, "*.png", after=5)
    assert "20 done, 0 done before, 0 failed," in output
    written = {p.name: p.read_bytes() for p in destination.glob("*.png")}
    # Byte for byte: the same pixels through the same PNG encoder (zlib is deterministic).
    assert written.keys() == one_process_results.keys()
    different = [name for name, data in written.items() if data != one_process_results[name]]
    assert not different
    lines = manifest_lines(destination)
    assert sorted(line["input"] for line in lines) == sorted(p.name for p in portraits)
    assert hidden_files(destination) == []
    assert sorted(p.name for p in destination.iterdir()) == sorted([*written, "manifest.jsonl"])

    # A rerun of the same command (on the head node left) finds everything done but an output
    # that was changed since, and redoes that one.
    (destination / "00002.png").write_bytes(b"not the result")
    again = cluster.inside([sys.executable, "-m", "batch", str(source), str(destination),
                            "--no-progress", "--actors", "1", *EMBEDDED, "--address",
                            cluster.address], "driver", stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    text, _ = again.communicate(timeout=120)
    assert again.returncode == 0, text.decode(errors="replace")[-3000:]
    assert b"1 done, 19 done before, 0 failed," in text
    assert (destination / "00002.png").read_bytes() == one_process_results["00002.png"]
    assert len(manifest_lines(destination)) == 21


# --- a video of people ---------------------------------------------------------------------------

SEGMENT_SECONDS = "1"
# ProRes, not the default H.264: libx264 through PyAV does not encode the same frames to the same
# pictures twice on this machine (up to 50 levels apart after its P-frames, measured), so only an
# intra-only format shows what the joins themselves change. ProRes encodes repeatably.
VIDEO_FORMAT = ".mov"


@pytest.fixture(scope="module")
def people_video(tmp_path_factory) -> Path:
    """A real clip of a person (89 frames, 30 fps, made 320×240) with a tone as its audio."""
    target = tmp_path_factory.mktemp("video") / "people.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-i", str(shared_data("videos", "asl_walk.mkv")), "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-vf", "scale=320:240", "-c:v",
                    "libx264", "-pix_fmt", "yuv420p", "-g", "30", "-c:a", "aac", "-shortest",
                    str(target)], check=True, timeout=120)
    return target


@pytest.fixture(scope="module")
def one_process_video(people_video, tmp_path_factory) -> Path:
    """The whole video matted in this process as one segment, joined the same way."""
    from background_replacement.batch.video import Segment, first_frame_time, join_segments
    from background_replacement.batch.worker import JobOptions, Worker
    from background_replacement.video.media import probe

    folder = tmp_path_factory.mktemp("reference")
    info = probe(people_video)
    worker = Worker(JobOptions({"segmenter": "selfie", "matter": "closed-form"}),
                    threads=0)  # every core, as this process had
    whole = Segment(0, Fraction(0), None, Fraction(0))
    done = worker.segment(str(people_video), whole, first_frame_time(people_video), info,
                          str(folder / "whole.mkv"))
    target = folder / f"people{VIDEO_FORMAT}"
    join_segments([(folder / "whole.mkv", done.times)], people_video, info, target, False)
    return target


def test_video_survives_a_lost_node_with_every_frame(cluster, people_video, one_process_video,
                                                     tmp_path):
    import av

    from background_replacement.video.media import probe, read_frames

    destination = tmp_path / "out"
    output = run_batch_killing_worker(cluster, [str(people_video), "--segment-seconds",
                                                SEGMENT_SECONDS, "--video-format", VIDEO_FORMAT,
                                                "--background", "green"],
                                      # both nodes mid-segment: the worker's is surely lost
                                      destination, ".people.segments/.*.partial.mkv", after=2)
    assert "1 done, 0 done before, 0 failed," in output
    result = destination / f"people{VIDEO_FORMAT}"
    source, joined = probe(people_video), probe(result)
    assert (joined.width, joined.height, joined.rate) == (source.width, source.height,
                                                          source.rate)
    frames = [f.rgb.astype(np.int16) for f in read_frames(result)]
    expected = [f.rgb.astype(np.int16) for f in read_frames(one_process_video)]
    assert len(frames) == len(expected) == 89
    with av.open(str(result)) as container:
        assert container.streams.audio[0].codec_context.name == source.audio_codec
    # Three segments of 30 frames with 28 warm-up frames: the smoothing's state at each join is
    # within half a level of alpha of the one-process run's; a frame may differ by a level or
    # two where that moved a rounding.
    worst = max(int(np.abs(a - b).max()) for a, b in zip(frames, expected, strict=True))
    mean = max(float(np.abs(a - b).mean()) for a, b in zip(frames, expected, strict=True))
    print(f"batch vs one process: at most {worst} levels in a frame, mean at most {mean:.4f}")
    assert worst <= 3 and mean < 0.05, (worst, mean)
    assert [line["input"] for line in manifest_lines(destination)] == ["people.mp4"]
    assert hidden_files(destination) == []
