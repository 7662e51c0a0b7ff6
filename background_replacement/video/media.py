"""Video files through PyAV (its own FFmpeg): probe, read upright RGB frames, write the result.

Frames leave ``read_frames`` as RGB uint8 H×W×3 the way a player shows them: a display matrix
(phones record portrait video as landscape plus a rotation) is applied, so the people stand
upright for segmentation and the result is written upright, without a matrix. Times are exact
``Fraction`` seconds.

``VideoWriter`` picks the codec from the output's extension (``OUTPUT_FORMATS``), writes into a
temporary file beside the output and renames it only when everything is written, and carries
the foreground's first audio track along: packets copied unchanged when the whole video is
processed and the container takes the codec, otherwise decoded, cut to the video's time span to
the sample and encoded again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from background_replacement.files import partial_path

BT709 = 1  # AVCOL_SPC/PRI/TRC_BT709: the output's colour tags
TV_RANGE = 1  # AVCOL_RANGE_MPEG
# swscale's default YUV → RGB rounding makes every picture about one level darker; these flags
# make a round trip through 4:2:0 unbiased (mean error within ±0.2 levels).
TO_RGB = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
TO_YUV = Interpolation.BILINEAR | Interpolation.ACCURATE_RND


class VideoError(RuntimeError):
    """A video cannot be read or written as asked; the message says why."""


@dataclass(frozen=True)
class OutputFormat:
    """How one output extension is encoded."""

    container: str
    codec: str
    pix_fmt: str  # opaque pictures
    alpha_pix_fmt: str | None  # transparent pictures; None: no alpha in this format
    options: dict[str, str]
    audio_codec: str  # when the audio must be encoded again
    audio_bit_rate: int | None
    audio_copy: frozenset[str]  # audio codecs copied as they are
    even_sides: bool = False  # 4:2:0 H.264 needs even width and height
    container_options: dict[str, str] = field(default_factory=dict)


OUTPUT_FORMATS = {
    # H.264 High, 4:2:0, AAC: what phones, browsers and messengers play. The quality is set by
    # the CRF; preset veryfast spends 5.4 ms of CPU a 640×480 frame where medium spent 13.7
    # (the file of asl_thanks.mkv came out 7 % smaller), CPU that video's matting shares.
    ".mp4": OutputFormat("mp4", "libx264", "yuv420p", None,
                         {"crf": "18", "preset": "veryfast", "profile": "high"},
                         "aac", 192_000, frozenset({"aac", "mp3", "alac", "ac3", "eac3"}),
                         even_sides=True, container_options={"movflags": "+faststart"}),
    # VP9 with an alpha channel, Opus: transparent video for browsers and editors.
    ".webm": OutputFormat("webm", "libvpx-vp9", "yuv420p", "yuva420p",
                          {"crf": "28", "b": "0", "deadline": "good", "cpu-used": "4",
                           "row-mt": "1"},
                          "libopus", 128_000, frozenset({"opus", "vorbis"})),
    # ProRes 4444 (with alpha when transparent), PCM: the editors' intermediate format.
    ".mov": OutputFormat("mov", "prores_ks", "yuv444p10le", "yuva444p10le",
                         {"profile": "4444", "vendor": "apl0"},
                         "pcm_s16le", None,
                         frozenset({"aac", "alac", "pcm_s16le", "pcm_s24le", "pcm_f32le"})),
}
TRANSPARENT_EXTENSIONS = tuple(ext for ext, f in OUTPUT_FORMATS.items() if f.alpha_pix_fmt)


def output_format(path: Path) -> OutputFormat:
    """The ``OutputFormat`` for ``path``'s extension; ``VideoError`` for any other."""
    try:
        return OUTPUT_FORMATS[path.suffix.lower()]
    except KeyError:
        raise VideoError(f"cannot write {path.name!r}: use .mp4 (H.264), .webm (VP9 with alpha) "
                         "or .mov (ProRes 4444 with alpha)") from None


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds. ``width`` and ``height`` are as displayed (rotation applied)."""

    path: Path
    width: int
    height: int
    rate: Fraction  # frames per second, exact (30000/1001 for 29.97)
    rotation: int  # degrees counter-clockwise a player turns the coded picture: 0, 90, 180, 270
    frames: int | None  # as the container says; None when it does not
    duration: Fraction | None  # seconds
    audio_codec: str | None  # the first audio stream's codec, None without audio


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot open {path} as a video: {exc}") from exc


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path} has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _rate(stream: av.VideoStream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise VideoError("the video does not say its frame rate")
    return Fraction(rate)


def probe(path: Path) -> VideoInfo:
    """Size, rate, rotation, length and audio of a video; decodes its first frame to be sure."""
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        try:
            first = next(container.decode(stream))
        except (StopIteration, av.FFmpegError) as exc:
            raise VideoError(f"{path} has no decodable video frame") from exc
        rotation = first.rotation % 360
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        if stream.duration is not None and stream.time_base:
            duration = stream.duration * stream.time_base
        elif container.duration is not None:
            duration = Fraction(container.duration, av.time_base)
        else:
            duration = None
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        return VideoInfo(path, width, height, _rate(stream), rotation, stream.frames or None,
                         duration, audio)


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``time`` in seconds on the file's clock, ``rgb`` upright."""

    index: int  # counted from the first frame read
    time: Fraction
    rgb: np.ndarray


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The picture as a player shows it, for a display rotation of ``rotation`` degrees
    counter-clockwise (what FFmpeg's autorotate does)."""
    if rotation % 90:
        raise VideoError(f"a display rotation of {rotation}° is not a multiple of 90°")
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def read_frames(path: Path, *, start: Fraction | None = None,
                end: Fraction | None = None) -> Generator[Frame, None, None]:
    """Decode ``path``'s frames in presentation order, upright: those from ``start`` to before
    ``end``, in seconds from the video's first frame (half a frame of tolerance)."""
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        rate = _rate(stream)
        slack = 1 / (2 * rate)
        zero = Fraction(stream.start_time or 0) * stream.time_base
        if start:
            container.seek(int((zero + start) / stream.time_base), stream=stream)  # a keyframe
        index = 0
        for decoded in container.decode(stream):
            time = (Fraction(decoded.pts) * decoded.time_base if decoded.pts is not None
                    else zero + Fraction(index) / rate)
            if start is not None and time - zero < start - slack:
                continue
            if end is not None and time - zero >= end - slack:
                return
            rgb = upright(decoded.to_ndarray(format="rgb24", interpolation=TO_RGB),
                          decoded.rotation)
            yield Frame(index, time, rgb)
            index += 1


def output_pts(time: Fraction, origin: Fraction, rate: Fraction, previous: int | None) -> int:
    """A frame's timestamp in the output (units of 1/rate): its own time on the rate's grid,
    and always after the previous frame's, so no frame is ever dropped or reordered."""
    pts = round((time - origin) * rate)
    return pts if previous is None or pts > previous else previous + 1


def pad_even(pixels: np.ndarray) -> np.ndarray:
    """Repeat the last row and/or column so that both sides are even (4:2:0 chroma)."""
    height, width = pixels.shape[:2]
    pad = ((0, height % 2), (0, width % 2)) + ((0, 0),) * (pixels.ndim - 2)
    return np.pad(pixels, pad, mode="edge") if height % 2 or width % 2 else pixels


def audio_is_copied(fmt: OutputFormat, codec: str | None, whole: bool) -> bool:
    """Whether the foreground's audio is copied unchanged (whole video, codec the container
    takes) rather than encoded again."""
    return codec is not None and whole and codec in fmt.audio_copy


class AudioTrack:
    """Carries a file's first audio stream into an output container, interleaved with the
    video: ``begin``, then ``write_until`` as the video advances, then ``finish``.

    Output times are the source's minus ``origin``. Copied: every packet, shifted. Encoded
    again: only the samples from ``origin`` to the output's ``end``, to the sample.
    """

    def __init__(self, source: Path, output: av.container.OutputContainer, fmt: OutputFormat,
                 *, copy: bool) -> None:
        self._input = _open(source)
        self._stream = self._input.streams.audio[0]
        self.copy = copy
        if copy:
            self._out = output.add_stream_from_template(self._stream)
        else:
            context = self._stream.codec_context
            rate = 48_000 if fmt.audio_codec == "libopus" else context.sample_rate
            layout = context.layout.name if context.layout.nb_channels <= 2 else "stereo"
            self._out = output.add_stream(fmt.audio_codec, rate=rate, layout=layout)
            if fmt.audio_bit_rate:
                self._out.bit_rate = fmt.audio_bit_rate
        self._output = output
        self._packets = self._input.demux(self._stream)
        self._pending: av.Packet | None = None
        self._origin = Fraction(0)
        self._end: Fraction | None = None  # output seconds
        self._next_pts: int | None = None  # of the next encoded frame, in 1/sample rate
        self._position: Fraction | None = None  # output second where the next decoded frame is
        self.done = False

    @property
    def codec(self) -> str:
        """The output's audio codec."""
        return self._out.codec_context.name

    @property
    def start_time(self) -> Fraction:
        """When the audio starts in the source, in seconds."""
        return Fraction(self._stream.start_time or 0) * self._stream.time_base

    def begin(self, origin: Fraction) -> None:
        """Fix the output's zero, in source seconds."""
        self._origin = origin
        if not self.copy and origin > self.start_time:
            self._input.seek(int(origin / self._stream.time_base), stream=self._stream)
            self._packets = self._input.demux(self._stream)

    def write_until(self, time: Fraction) -> None:
        """Mux the audio up to output second ``time``."""
        while not self.done:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None or (packet.pts is None and packet.dts is None):
                self._drain(packet)  # the source's end (None or its empty flush packet)
                return
            when = Fraction(packet.pts if packet.pts is not None else packet.dts) \
                * packet.time_base - self._origin
            if self._end is not None and when >= self._end:
                self._drain(None)
                return
            if when > time:
                self._pending = packet
                return
            if self.copy:
                self._copy(packet)
            else:
                self._encode(packet.decode())

    def finish(self, end: Fraction | None = None) -> None:
        """Mux what is left (up to output second ``end`` when encoding again) and flush."""
        if end is not None and not self.copy:
            self._end = end
        self.write_until(Fraction(2**62))
        self.close()

    def close(self) -> None:
        """Close the source."""
        self._input.close()

    def _copy(self, packet: av.Packet) -> None:
        shift = round(self._origin / packet.time_base)
        if packet.pts is not None:
            packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self._out
        self._output.mux(packet)

    def _encode(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            trimmed = self._trim(frame)
            if trimmed is None:
                continue
            cut, begins = trimmed
            if self._next_pts is None:
                self._next_pts = max(0, round(begins * cut.sample_rate))
            cut.pts, cut.time_base = self._next_pts, Fraction(1, cut.sample_rate)
            self._next_pts += cut.samples
            self._output.mux(self._out.encode(cut))

    def _trim(self, frame: av.AudioFrame) -> tuple[av.AudioFrame, Fraction] | None:
        """The part of ``frame`` in output seconds [0, end) and when it begins, or None."""
        rate = frame.sample_rate
        if frame.pts is not None:  # containers round times (Matroska: to the millisecond)
            stated = Fraction(frame.pts) * frame.time_base - self._origin
            if self._position is None or abs(stated - self._position) > Fraction(1, 50):
                self._position = stated  # the start, or a real gap in the source
        begins = self._position or Fraction(0)
        self._position = begins + Fraction(frame.samples, rate)
        first = max(0, round(-begins * rate))
        last = frame.samples if self._end is None else \
            min(frame.samples, round((self._end - begins) * rate))
        if last <= first:
            return None
        if first == 0 and last == frame.samples:
            return frame, begins
        samples = frame.to_ndarray()
        channels = 1 if frame.format.is_planar else frame.layout.nb_channels
        cut = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, first * channels:last * channels]),
            format=frame.format.name, layout=frame.layout.name)
        cut.sample_rate = rate
        return cut, begins + Fraction(first, rate)

    def _drain(self, flush_packet: av.Packet | None) -> None:
        """Flush the decoder (with the source's empty packet) and the encoder."""
        if not self.copy:
            if flush_packet is not None:
                self._encode(flush_packet.decode())
            self._output.mux(self._out.encode(None))
        self.done = True


class VideoWriter:
    """Writes frames to ``path`` in the format its extension names, atomically.

    Everything goes to a hidden temporary file beside ``path``; ``close`` renames it to
    ``path`` when all is written, ``discard`` deletes it (as ``close`` and the constructor do
    when they fail), so a file under ``path``'s name is always complete.
    """

    def __init__(self, path: Path, *, width: int, height: int, rate: Fraction,
                 transparent: bool, audio_source: Path | None = None,
                 copy_audio: bool = False) -> None:
        self.path = Path(path)
        self.format = output_format(self.path)
        if transparent and self.format.alpha_pix_fmt is None:
            raise VideoError(f"{self.path.suffix} ({self.format.codec}) has no alpha channel; "
                             f"write {' or '.join(TRANSPARENT_EXTENSIONS)} for a transparent "
                             "video")
        self.transparent = transparent
        self.rate = rate
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = partial_path(self.path)
        try:
            self._container = av.open(str(self.temporary), "w", format=self.format.container,
                                      options=self.format.container_options)
            self._video = self._add_video(width, height)
            self.audio = AudioTrack(audio_source, self._container, self.format,
                                    copy=copy_audio) if audio_source else None
            self._container.start_encoding()  # opens the codecs and the file now
        except BaseException:
            self.discard()
            raise
        self.frames = 0
        self._last_pts = -1

    def _add_video(self, width: int, height: int) -> av.VideoStream:
        if self.format.even_sides:
            width, height = width + width % 2, height + height % 2
        stream = self._container.add_stream(self.format.codec, rate=self.rate,
                                            options=self.format.options)
        stream.width, stream.height = width, height
        stream.pix_fmt = self.format.alpha_pix_fmt if self.transparent else self.format.pix_fmt
        stream.codec_context.time_base = 1 / self.rate
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = BT709
        context.color_range = TV_RANGE
        return stream

    def write(self, pixels: np.ndarray, pts: int) -> None:
        """Encode one picture (RGB uint8 H×W×3, or RGBA H×W×4 when transparent) at ``pts``,
        in units of 1/rate."""
        if pts <= self._last_pts:
            raise ValueError(f"timestamps must increase: {pts} after {self._last_pts}")
        if self.format.even_sides:
            pixels = pad_even(pixels)
        frame = av.VideoFrame.from_ndarray(pixels, format="rgba" if pixels.shape[2] == 4
                                           else "rgb24")
        frame = frame.reformat(format=self._video.pix_fmt, dst_colorspace=Colorspace.ITU709,
                               dst_color_range=ColorRange.MPEG, interpolation=TO_YUV)
        frame.pts, frame.time_base = pts, 1 / self.rate
        self._container.mux(self._video.encode(frame))
        self._last_pts = pts
        self.frames += 1

    def close(self, end: Fraction | None = None) -> None:
        """Flush the encoders, finish the audio (up to output second ``end`` when it is cut),
        close the file and give it its name."""
        try:
            self._container.mux(self._video.encode(None))
            if self.audio is not None:
                self.audio.finish(end)
            self._container.close()
        except BaseException:
            self.discard()
            raise
        os.replace(self.temporary, self.path)

    def discard(self) -> None:
        """Close and delete the temporary file; nothing appears under ``path``."""
        for part in (getattr(self, "audio", None), getattr(self, "_container", None)):
            if part is not None:
                with contextlib.suppress(av.FFmpegError, OSError):  # already failing
                    part.close()
        self.temporary.unlink(missing_ok=True)
