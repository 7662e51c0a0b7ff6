"""A short clip made from a still picture, for trying the video path without a video of one's
own: a slow zoom and pan over the picture (a Ken Burns move), so the person moves in the frame.

The notebook makes its example clips so from ``examples/astronaut.png`` (NASA, public domain)
and one of the project's own backgrounds; nothing is downloaded or shipped as a video.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from background_replacement.video.media import VideoWriter

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PHOTO = ROOT / "examples" / "astronaut.png"  # in a checkout of the project


def zoom_frames(image_rgb: np.ndarray, *, width: int, height: int, count: int,
                zoom: float = 1.25, towards: tuple[float, float] = (0.5, 0.5)
                ) -> Iterator[np.ndarray]:
    """``count`` frames (RGB uint8 height×width×3) of a move from the largest ``width:height``
    window of ``image_rgb`` to one ``zoom`` times smaller centred near ``towards`` (x, y as
    fractions of the image's width and height)."""
    if count < 1 or width < 2 or height < 2 or zoom < 1:
        raise ValueError("need count ≥ 1, sides ≥ 2 and zoom ≥ 1")
    rows, cols = image_rgb.shape[:2]
    scale = min(cols / width, rows / height)  # the largest window of the frame's shape
    start = np.array([cols / 2, rows / 2, width * scale, height * scale])
    end_w, end_h = start[2] / zoom, start[3] / zoom
    end_x = np.clip(towards[0] * cols, end_w / 2, cols - end_w / 2)
    end_y = np.clip(towards[1] * rows, end_h / 2, rows - end_h / 2)
    end = np.array([end_x, end_y, end_w, end_h])
    for step in range(count):
        t = step / max(count - 1, 1)
        t = t * t * (3 - 2 * t)  # ease in and out
        x, y, w, h = start + (end - start) * t
        # The affine map from the window onto the frame: smooth sub-pixel motion, no jitter.
        matrix = np.array([[width / w, 0, width / 2 - x * width / w],
                           [0, height / h, height / 2 - y * height / h]])
        yield cv2.warpAffine(image_rgb, matrix, (width, height), flags=cv2.INTER_AREA,
                             borderMode=cv2.BORDER_REFLECT)


def write_zoom_clip(picture: str | Path, output: str | Path, *, width: int = 384,
                    height: int = 288, seconds: float = 2.0, rate: int = 12,
                    zoom: float = 1.25, towards: tuple[float, float] = (0.5, 0.5)) -> Path:
    """Write ``seconds`` of ``zoom_frames`` over ``picture`` at ``rate`` frames per second to
    ``output`` (its extension picks the format, as for the video command); returns its path."""
    image_rgb = np.asarray(Image.open(picture).convert("RGB"))
    output = Path(output)
    writer = VideoWriter(output, width=width, height=height, rate=Fraction(rate),
                         transparent=False)
    try:
        frames = zoom_frames(image_rgb, width=width, height=height,
                             count=max(1, round(seconds * rate)), zoom=zoom, towards=towards)
        for index, frame in enumerate(frames):
            writer.write(frame, index)
        writer.close()
    except BaseException:
        writer.discard()
        raise
    return output
