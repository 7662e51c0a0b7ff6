"""One remove.bg request's work: the matting pipeline of ``/matte``, then remove.bg's region of
interest, crop, scale, position and background, then its output formats."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import cv2
import numpy as np

from background_replacement import effects
from background_replacement.background import Transparent
from background_replacement.compositing import cover
from background_replacement.matters import Matter
from background_replacement.matting_api.matting_job import MatteJob, run_matting
from background_replacement.matting_api.removebg.geometry import (
    Box,
    GeometryError,
    foreground_box,
    layout,
    roi_box,
)
from background_replacement.matting_api.removebg.options import RemoveBgOptions
from background_replacement.matting_api.segmentation_client import SegmentationClient
from background_replacement.params import DEFAULT_PARAMS, Effects
from background_replacement.scaling import shrink
from background_replacement.service_common.errors import ApiError
from background_replacement.service_common.uploads import (
    DecodedImage,
    check_encodable,
    encode_image,
    mimetype,
)
from background_replacement.timing import StageTimer

# What the zip answer holds, by remove.bg's names: the colours and the matte.
ZIP_COLOUR, ZIP_ALPHA = "color.jpg", "alpha.png"
JPEG_BACKDROP = (255, 255, 255)  # what transparent regions become in a JPEG
# add_shadow: /matte's shadow at this opacity, straight behind (remove.bg gives no direction).
SHADOW = Effects(shadow=0.6)
_ENCODE_NAMES = {"png": "png", "jpg": "jpeg"}  # remove.bg's format names → the encoder's
MIMETYPES = {name: mimetype(fmt) for name, fmt in _ENCODE_NAMES.items()} | {
    "zip": "application/zip"}


@dataclass(frozen=True)
class RemoveBgJob:
    """A validated request: the image at its output size, the options, and the upload's size
    (roi pixel lengths refer to it)."""

    image_bytes: bytes  # what the segmentation service decodes to ``image``
    image: DecodedImage
    upload_size: tuple[int, int]  # width, height
    options: RemoveBgOptions
    max_pixels: int  # the service's pixel limit, also on the laid-out result
    background_rgb: np.ndarray | None = None


@dataclass(frozen=True)
class RemoveBgResult:
    """``rgba`` uint8 H×W×4 over the background; ``alpha`` the subject's matte on the same
    canvas; ``foreground`` its box there; ``info`` response headers."""

    rgba: np.ndarray
    alpha: np.ndarray
    foreground: Box
    info: dict[str, str]


def shrink_upload(image: DecodedImage, width: int, height: int) -> DecodedImage:
    """``image`` at width×height (the core's ``shrink``: area-averaged), its alpha too."""
    if image.rgb.shape[:2] == (height, width):
        return image
    alpha = None if image.alpha is None else shrink(image.alpha, (width, height))
    return DecodedImage(rgb=shrink(image.rgb, (width, height)), alpha=alpha, format=image.format)


def place(rgba: np.ndarray, source: Box, width: int, height: int, target: Box) -> np.ndarray:
    """A transparent width×height canvas with ``rgba[source]`` resized into ``target``."""
    canvas = np.zeros((height, width, 4), np.uint8)
    part = rgba[source.top:source.top + source.height, source.left:source.left + source.width]
    if (target.width, target.height) != (source.width, source.height):
        shrinking = target.width * target.height < source.width * source.height
        part = cv2.resize(part, (target.width, target.height),
                          interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    canvas[target.top:target.top + target.height, target.left:target.left + target.width] = part
    return canvas


def over(foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Porter-Duff ``foreground`` over ``background``, both RGBA uint8 H×W×4 (the background
    may be one RGBA colour, broadcast)."""
    fa = foreground[..., 3:4].astype(np.float32) / 255.0
    ba = np.asarray(background[..., 3:4], np.float32) / 255.0
    out_a = fa + ba * (1.0 - fa)
    rgb = (fa * foreground[..., :3] + ba * (1.0 - fa) * np.asarray(background[..., :3],
                                                                   np.float32))
    rgb = np.divide(rgb, out_a, out=np.zeros_like(rgb), where=out_a > 0)
    return np.dstack([np.clip(rgb + 0.5, 0, 255), np.clip(out_a[..., 0] * 255.0 + 0.5, 0, 255)]
                     ).astype(np.uint8)


def _background(options: RemoveBgOptions, background_rgb: np.ndarray | None,
                placed: np.ndarray) -> np.ndarray | None:
    """The backdrop behind the ``placed`` subject (RGBA uint8 H×W×4): the picture or the colour
    (one RGBA colour, broadcast, unless a shadow falls on it), with ``add_shadow``'s shadow;
    None when transparent."""
    height, width = placed.shape[:2]
    if background_rgb is not None:
        rgb = cover(background_rgb, height, width)
    elif options.bg_color is not None:
        if not options.add_shadow:
            return np.array(options.bg_color, np.uint8)
        rgb = np.broadcast_to(np.array(options.bg_color[:3], np.uint8), (height, width, 3))
    else:
        return None
    opaque = np.full((height, width), 255 if options.bg_color is None else options.bg_color[3],
                     np.uint8)
    if options.add_shadow:
        alpha = placed[..., 3].astype(np.float32) / 255
        rgb = effects.shade(rgb, effects.shadow_map(alpha, SHADOW.shadow_angle), SHADOW.shadow)
    return np.dstack([rgb, opaque])


def shadow_header(options: RemoveBgOptions, background_rgb: np.ndarray | None) -> str:
    """``X-Effects`` for a remove.bg answer: the shadow when there was a ground for it."""
    ground = background_rgb is not None or options.bg_color is not None
    return effects.plan(SHADOW if options.add_shadow else Effects(), ground=ground,
                        picture=False).header(SHADOW)


def remove_background(job: RemoveBgJob, matter: Matter, segmentation: SegmentationClient,
                      timer: StageTimer) -> RemoveBgResult:
    """Matte ``job.image`` with the ``/matte`` pipeline and lay the cut-out subject out as the
    options ask. A picture without a person, or with none inside the roi, is refused (400)."""
    matte_job = MatteJob(image_bytes=job.image_bytes, image=job.image,
                         background=Transparent(), output="cutout",
                         params=DEFAULT_PARAMS, if_no_person="empty")  # refused below
    matted = run_matting(matte_job, matter, segmentation, timer)
    with timer.stage("layout"):
        cutout = matted.pixels
        height, width = cutout.shape[:2]
        if job.options.roi is not None:
            try:
                roi = roi_box(job.options.roi, width, height, width / job.upload_size[0])
            except GeometryError as exc:
                raise ApiError(400, exc.code, str(exc)) from None
            inside = np.zeros((height, width), bool)
            inside[roi.top:roi.top + roi.height, roi.left:roi.left + roi.width] = True
            cutout[..., 3][~inside] = 0
        subject = foreground_box(cutout[..., 3])
        if subject is None:
            raise ApiError(400, "unknown_foreground", "No person was found in the image"
                           + (" inside the roi." if job.options.roi is not None else "."))
        plan = layout(width, height, subject, crop=job.options.crop,
                      margins=job.options.crop_margin, scale=job.options.scale,
                      position=job.options.position)
        if plan.width * plan.height > job.max_pixels:
            raise ApiError(400, "resolution_too_high", f"The result would be {plan.width}×"
                           f"{plan.height} pixels; the limit is {job.max_pixels}.")
        check_encodable(plan.height, plan.width, "jpeg")
        placed = place(cutout, subject, plan.width, plan.height, plan.subject)
        backdrop = _background(job.options, job.background_rgb, placed)
        rgba = placed if backdrop is None else over(placed, backdrop)
    foreground = foreground_box(placed[..., 3]) or plan.subject
    info = {**matted.info, "X-Effects": shadow_header(job.options, job.background_rgb)}
    return RemoveBgResult(rgba=rgba, alpha=placed[..., 3], foreground=foreground, info=info)


def output_format(result: RemoveBgResult, options: RemoveBgOptions) -> str:
    """png, jpg or zip: ``auto`` is PNG where the result has transparency (and for the alpha
    matte), JPEG where it has none."""
    if options.format != "auto":
        return options.format
    if options.channels == "alpha":
        return "png"
    return "png" if int(result.rgba[..., 3].min()) < 255 else "jpg"


def _flatten(rgba: np.ndarray) -> np.ndarray:
    return over(rgba, np.array((*JPEG_BACKDROP, 255), np.uint8))[..., :3]


def encode_result(result: RemoveBgResult, options: RemoveBgOptions) -> tuple[bytes, str]:
    """The answer's bytes and MIME type: the image as asked, or a zip of ``color.jpg`` (the
    colours, alpha ignored) and ``alpha.png`` (the result's alpha)."""
    fmt = output_format(result, options)
    if fmt == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(ZIP_COLOUR, encode_image(np.ascontiguousarray(
                result.rgba[..., :3]), "jpeg"))
            archive.writestr(ZIP_ALPHA, encode_image(np.ascontiguousarray(
                result.rgba[..., 3]), "png"))
        return buffer.getvalue(), MIMETYPES["zip"]
    if options.channels == "alpha":
        pixels = result.alpha
    elif fmt == "jpg":
        pixels = _flatten(result.rgba)
    else:
        pixels = result.rgba
    return encode_image(np.ascontiguousarray(pixels), _ENCODE_NAMES[fmt]), MIMETYPES[fmt]
