"""One request's work: the trimap (uploaded, or over HTTP from the segmentation service), then
the core's matting and rendering."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from background_replacement.background import Background
from background_replacement.hints import Hint
from background_replacement.matters import Matter
from background_replacement.matting_api.segmentation_client import SegmentationClient
from background_replacement.params import NO_EFFECTS, Effects, TrimapParams
from background_replacement.people import EVERYONE, PeopleChoice
from background_replacement.pipeline import (
    NoPersonFound,
    matte_and_render,
    people_in_trimap,
    with_hint,
)
from background_replacement.service_common.errors import ApiError
from background_replacement.service_common.uploads import DecodedImage
from background_replacement.timing import StageTimer


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
    choice: PeopleChoice = EVERYONE  # which people the segmentation service keeps
    hint: Hint | None = None  # merged into the trimap, whichever made it
    effects: Effects = NO_EFFECTS  # on a composite over a background with pixels


@dataclass(frozen=True)
class MatteResult:
    """``pixels``: uint8 H×W (alpha, trimap), H×W×3 or H×W×4; ``info``: response headers."""

    pixels: np.ndarray
    info: dict[str, str]


def _trimap(job: MatteJob, segmentation: SegmentationClient, timer: StageTimer,
            info: dict[str, str]) -> tuple[np.ndarray, int]:
    if job.trimap is not None:
        info["X-Segmenter"] = "uploaded-trimap"
        return job.trimap, people_in_trimap(job.trimap)
    with timer.stage("segmentation"):
        remote = segmentation.trimap(job.image_bytes, job.params, job.choice)
    info["X-People-Found"] = str(remote.found_count)
    info["X-Segmenter"] = remote.segmenter
    timer.add_remote(remote.server_timing, "seg-")
    if remote.trimap.shape != job.image.rgb.shape[:2]:
        raise ApiError(502, "segmentation_bad_answer",
                       f"The segmentation service answered a {remote.trimap.shape} trimap for "
                       f"a {job.image.rgb.shape[:2]} image.")
    return remote.trimap, remote.people_count


def run_matting(job: MatteJob, matter: Matter, segmentation: SegmentationClient,
                timer: StageTimer) -> MatteResult:
    """Trimap, matte and the requested output for one validated request."""
    info = {"X-Matter": matter.name}
    trimap, people_count = _trimap(job, segmentation, timer, info)
    if job.hint is not None:  # sizes checked with the request
        trimap, people_count = with_hint(trimap, people_count, job.hint)
        info["X-Hint"] = "merged"
    info["X-People-Count"] = str(people_count)
    try:
        rendered = matte_and_render(matter, job.image, trimap, people_count,
                                    background=job.background, output=job.output,
                                    if_no_person=job.if_no_person, timer=timer, hint=job.hint,
                                    effects=job.effects)
    except NoPersonFound as exc:
        raise ApiError(422, "no_person", str(exc)) from None
    if rendered.unchanged:
        info["X-No-Person"] = "original"
    info["X-Effects"] = rendered.applied.header(job.effects)
    return MatteResult(rendered.pixels, info)
