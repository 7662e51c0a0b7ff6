"""One request's work: trimap (uploaded or from the segmentation service) → matte → output."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matting_api.backgrounds import Background
from matting_api.compositing import composite, cutout, to_uint8
from matting_api.matters import Matte, Matter
from matting_api.segmentation_client import SegmentationClient
from service_common.errors import ApiError
from service_common.http import StageTimer
from service_common.images import DecodedImage
from service_common.params import TrimapParams

OUTPUTS = ("composite", "cutout", "alpha", "foreground", "trimap")
NO_PERSON_CHOICES = ("error", "original", "empty")


@dataclass(frozen=True)
class MatteJob:
    """A validated request. ``image_bytes`` are the upload as sent (forwarded once, unchanged)."""

    image_bytes: bytes
    image: DecodedImage
    background: Background
    output: str
    params: TrimapParams
    if_no_person: str = "error"
    trimap: np.ndarray | None = None  # uploaded: skips segmentation


@dataclass(frozen=True)
class MatteResult:
    """``pixels``: uint8 H×W (alpha, trimap), H×W×3 or H×W×4; ``info``: response headers."""

    pixels: np.ndarray
    info: dict[str, str]


def _trimap(job: MatteJob, segmentation: SegmentationClient, timer: StageTimer,
            info: dict[str, str]) -> tuple[np.ndarray, int]:
    if job.trimap is not None:
        info["X-Segmenter"] = "uploaded-trimap"
        people = int(np.any(job.trimap == 255))
        return job.trimap, people
    with timer.stage("segmentation"):
        remote = segmentation.trimap(job.image_bytes, job.params)
    info["X-Segmenter"] = remote.segmenter
    timer.add_remote(remote.server_timing, "seg-")
    if remote.trimap.shape != job.image.rgb.shape[:2]:
        raise ApiError(502, "segmentation_bad_answer",
                       f"The segmentation service answered a {remote.trimap.shape} trimap for "
                       f"a {job.image.rgb.shape[:2]} image.")
    return remote.trimap, remote.people


def _render(job: MatteJob, matte: Matte, trimap: np.ndarray) -> np.ndarray:
    if job.output == "trimap":
        return trimap
    if job.output == "alpha":
        return to_uint8(matte.alpha)
    if job.output == "foreground":
        return to_uint8(matte.foreground)
    if job.output == "cutout" or job.background.transparent:
        return cutout(matte.foreground, matte.alpha)
    background = job.background.render(job.image.rgb, matte.alpha)
    return composite(matte.foreground, matte.alpha, background)


def run_matting(job: MatteJob, matter: Matter, segmentation: SegmentationClient,
                timer: StageTimer) -> MatteResult:
    """Trimap, matte and the requested output for one validated request."""
    info = {"X-Matter": matter.name}
    trimap, people = _trimap(job, segmentation, timer, info)
    info["X-People-Count"] = str(people)
    rgb = job.image.rgb
    if people == 0 and job.if_no_person == "error":
        raise ApiError(422, "no_person", "No person was found in the image. Send "
                       "if_no_person=original to get the photo back unchanged, or "
                       "if_no_person=empty to get the background alone.")
    if people == 0 and job.if_no_person == "original":
        info["X-No-Person"] = "original"
        return MatteResult(rgb if job.image.alpha is None else
                           np.dstack([rgb, to_uint8(job.image.alpha)]), info)
    with timer.stage("matting"):
        if people == 0:
            matte = Matte(np.zeros(trimap.shape, np.float32), rgb.astype(np.float32) / 255.0)
        else:
            matte = matter.matte(rgb, trimap)
        if job.image.alpha is not None:  # what the upload made transparent stays transparent
            matte = Matte(matte.alpha * job.image.alpha, matte.foreground)
    with timer.stage("compositing"):
        pixels = _render(job, matte, trimap)
    return MatteResult(pixels, info)
