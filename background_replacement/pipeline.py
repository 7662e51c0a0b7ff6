"""The pipeline, stage by stage: photo → person probability → trimap → matte → output.

The services and the Python API run these same functions; only where the trimap comes from
differs (the matting service asks the segmentation service for it over HTTP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from background_replacement.background import Background, Blur, Colour, Picture
from background_replacement.compositing import composite, cutout, to_uint8
from background_replacement.effects import NOTHING_APPLIED, Applied, apply_effects, plan
from background_replacement.hints import Hint, merge_hint
from background_replacement.images import ALPHA_FORMATS, Photo
from background_replacement.matters import Matte, Matter
from background_replacement.params import (
    DEFAULT_PARAMS,
    NO_EFFECTS,
    Effects,
    TrimapParams,
    scaled_band,
)
from background_replacement.people import EVERYONE, People, PeopleChoice, mask_height
from background_replacement.segmenters import PersonSegmenter
from background_replacement.timing import StageTimer
from background_replacement.trimap import BACKGROUND, FOREGROUND, UNKNOWN, make_trimap

OUTPUTS = ("composite", "cutout", "alpha", "foreground", "trimap")
NO_PERSON_CHOICES = ("error", "original", "empty")
# The copy a segmenter sees has no side over this (MediaPipe aborts from 32767; both models work
# at a few hundred pixels anyway) ...
SEGMENT_MAX_SIDE = 4096
# ... and no side more than this many times the other (torchvision's detection transform rounds
# the short side of a thinner picture down to nothing).
SEGMENT_MAX_ASPECT = 8
# People at least this many pixels tall get the trimap parameters' band as it is (portraits, about
# 800 px, on which the parameters were chosen); smaller people a narrower one (``band_scale``).
BAND_REFERENCE_HEIGHT = 800


class NoPersonFound(ValueError):
    """Nobody was found in the photo, and the caller asked for an error then."""


@dataclass(frozen=True)
class TrimapResult:
    """``probability`` float32 H×W of the people kept; ``trimap`` uint8 H×W (0/128/255) of
    them; ``found``: every person found, one mask each; ``kept``: the indices kept."""

    probability: np.ndarray
    trimap: np.ndarray
    found: People
    kept: tuple[int, ...]

    @property
    def people_count(self) -> int:
        """How many people the trimap holds (those kept)."""
        return len(self.kept)


@dataclass(frozen=True)
class Rendered:
    """``pixels``: uint8 H×W (alpha, trimap), H×W×3 or H×W×4; ``unchanged``: nobody was found
    and the photo came back as it was (``if_no_person="original"``); ``applied``: the effects
    the composite received."""

    pixels: np.ndarray
    unchanged: bool = False
    applied: Applied = NOTHING_APPLIED


@dataclass(frozen=True)
class SegmentationView:
    """The copy of an RGB uint8 H×W×3 image that a segmenter sees: scaled down to at most
    ``SEGMENT_MAX_SIDE`` a side, then padded (border replicated) to at most
    ``SEGMENT_MAX_ASPECT`` : 1. An image within both bounds is used as it is."""

    pixels: np.ndarray
    inner: tuple[slice, slice]  # where the (scaled) image lies inside ``pixels``
    height: int  # the input's size
    width: int

    @classmethod
    def of(cls, image_rgb: np.ndarray) -> SegmentationView:
        height, width = image_rgb.shape[:2]
        pixels = image_rgb
        scale = SEGMENT_MAX_SIDE / max(height, width)
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            pixels = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
        rows, cols = pixels.shape[:2]
        short = math.ceil(max(rows, cols) / SEGMENT_MAX_ASPECT)
        pad_rows, pad_cols = max(0, short - rows), max(0, short - cols)
        top, left = pad_rows // 2, pad_cols // 2
        if pad_rows or pad_cols:
            pixels = cv2.copyMakeBorder(pixels, top, pad_rows - top, left, pad_cols - left,
                                        cv2.BORDER_REPLICATE)
        return cls(pixels, (slice(top, top + rows), slice(left, left + cols)), height, width)

    def restore(self, probability: np.ndarray) -> np.ndarray:
        """A float32 map of the view's size → the input's size (crop the padding, rescale)."""
        inner = probability[self.inner]
        if inner.shape == (self.height, self.width):
            return inner
        return cv2.resize(np.ascontiguousarray(inner, np.float32), (self.width, self.height),
                          interpolation=cv2.INTER_LINEAR)

    def restore_masks(self, masks: np.ndarray) -> np.ndarray:
        """``restore`` for each map of a float32 N×H×W stack."""
        if masks.shape[1:] == (self.height, self.width):
            return masks
        restored = np.empty((masks.shape[0], self.height, self.width), np.float32)
        for index, mask in enumerate(masks):
            restored[index] = self.restore(mask)
        return restored


def find_people(segmenter: PersonSegmenter, image_rgb: np.ndarray,
                params: TrimapParams = DEFAULT_PARAMS) -> People:
    """Run the segmenter on an RGB uint8 H×W×3 image (through its ``SegmentationView``): the
    people, their probability and masks at the image's size."""
    view = SegmentationView.of(image_rgb)
    seen = segmenter.segment(view.pixels, score_threshold=params.score_threshold)
    return People(view.restore(seen.probability), seen.scores,
                  lambda: view.restore_masks(seen.masks))


def segment_to_trimap(segmenter: PersonSegmenter, image_rgb: np.ndarray,
                      params: TrimapParams = DEFAULT_PARAMS,
                      timer: StageTimer | None = None, *,
                      choice: PeopleChoice = EVERYONE) -> TrimapResult:
    """Find the people of an RGB uint8 H×W×3 image and make the trimap of those ``choice``
    keeps, at the image's size. Raises ``NoSuchPerson`` or ``ValueError`` (see
    ``People.choose``) for a choice the photo cannot meet."""
    timer = timer or StageTimer()
    with timer.stage("segment"):
        found = find_people(segmenter, image_rgb, params)
    kept = found.choose(choice)
    with timer.stage("trimap"):
        probability, trimap = trimap_of_people(found, kept, params)
    return TrimapResult(probability, trimap, found, kept)


def trimap_of_people(found: People, kept: tuple[int, ...],
                     params: TrimapParams = DEFAULT_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """The probability (float32 H×W) and trimap of the people ``kept`` among those ``found``.

    With everyone kept, the segmenter's own probability. Otherwise the kept people's masks
    make the trimap, and a person left out is background also where their mask reaches into a
    kept person's unknown band (where theirs is the likelier and at least ``bg_threshold``).
    """
    if len(kept) == len(found):
        return found.probability, banded_trimap(found.probability, found.masks, params)
    kept_probability = (found.masks[list(kept)].max(axis=0) if kept
                        else np.zeros(found.shape, np.float32))
    trimap = banded_trimap(kept_probability, found.masks[list(kept)], params)
    dropped = found.masks[[i for i in range(len(found)) if i not in kept]].max(axis=0)
    theirs = (dropped > kept_probability) & (dropped >= params.bg_threshold)
    trimap[theirs & (trimap == UNKNOWN)] = BACKGROUND
    return kept_probability, trimap


def band_scale(mask: np.ndarray) -> float:
    """How wide a person's unknown band is, as a share of the trimap parameters' band: 1 for
    people at least ``BAND_REFERENCE_HEIGHT`` pixels tall, narrower in proportion for smaller
    ones (a fixed band would erode a far person's arms and legs away)."""
    return min(1.0, mask_height(mask) / BAND_REFERENCE_HEIGHT)


def banded_trimap(probability: np.ndarray, masks: np.ndarray,
                  params: TrimapParams = DEFAULT_PARAMS) -> np.ndarray:
    """``trimap_for`` with each person's band scaled to their size (``band_scale``).
    ``masks``: float32 N×H×W, each person's share of ``probability`` (their pixelwise maximum
    is ``probability`` where anyone is). People of one band width share one trimap; the
    trimaps of different widths are merged by their maximum (foreground over unknown over
    background)."""
    bands = [scaled_band(params, band_scale(mask)) for mask in masks]
    widths = set(bands)
    if len(widths) <= 1:
        return trimap_for(probability, bands[0] if bands else params)
    trimap = np.zeros(probability.shape, np.uint8)
    for width in widths:
        part = masks[[i for i, band in enumerate(bands) if band == width]].max(axis=0)
        np.maximum(trimap, trimap_for(part, width), out=trimap)
    return trimap


def trimap_for(probability: np.ndarray, params: TrimapParams = DEFAULT_PARAMS) -> np.ndarray:
    """``make_trimap`` with the trimap parameters of ``params``."""
    return make_trimap(probability, fg_threshold=params.fg_threshold,
                       bg_threshold=params.bg_threshold, kernel_size=params.kernel_size,
                       erode_iterations=params.erode_iterations,
                       dilate_iterations=params.dilate_iterations)


def people_in_trimap(trimap: np.ndarray) -> int:
    """What an uploaded trimap says about people: 1 if it has known foreground, else 0."""
    return int(np.any(trimap == FOREGROUND))


def with_hint(trimap: np.ndarray, people_count: int, hint: Hint) -> tuple[np.ndarray, int]:
    """The trimap with ``hint`` merged in, and the people count (one the hint's "keep" strokes
    made, where none was found before)."""
    merged = merge_hint(trimap, hint)
    return merged, people_count or people_in_trimap(merged)


def has_alpha(output: str, transparent_background: bool) -> bool:
    """Whether an ``output`` has an alpha channel: a cutout, or a composite over nothing."""
    return output == "cutout" or (output == "composite" and transparent_background)


def is_transparent(output: str, background: Background) -> bool:
    """Whether the result has an alpha channel (``has_alpha``)."""
    return has_alpha(output, background.transparent)


def check_format(fmt: str, output: str, transparent_background: bool) -> None:
    """The transparent rule, stated once: a result with an alpha channel (``has_alpha``) needs
    a format that keeps one (``images.ALPHA_FORMATS``). ``ValueError`` with a message for the
    user otherwise."""
    if has_alpha(output, transparent_background) and fmt not in ALPHA_FORMATS:
        raise ValueError(f"a transparent result needs format {' or '.join(ALPHA_FORMATS)}; "
                         f"{fmt.upper()} has no alpha channel")


def matte_people(matter: Matter, photo: Photo, trimap: np.ndarray, people_count: int,
                 free: np.ndarray | None = None) -> Matte:
    """The photo's matte: the matter's (``free``: see ``Matter.matte``), or all background when
    nobody was found (``people_count`` 0). What the photo's own alpha made transparent stays
    transparent."""
    if people_count == 0:
        matte = Matte(np.zeros(trimap.shape, np.float32), photo.rgb.astype(np.float32) / 255.0)
    else:
        matte = matter.matte(photo.rgb, trimap, free)
    if photo.alpha is not None:
        matte = Matte(matte.alpha * photo.alpha, matte.foreground)
    return matte


def effects_over(effects: Effects, output: str, background: Background) -> Applied:
    """Which ``effects`` an output gets: only a composite over a background with pixels
    (never a transparent result, a cutout, alpha, foreground or trimap); see ``plan``."""
    if output != "composite" or background.transparent:
        return NOTHING_APPLIED
    return plan(effects, ground=isinstance(background, Picture | Colour),
                picture=isinstance(background, Picture | Blur))


def render(output: str, photo: Photo, matte: Matte, trimap: np.ndarray,
           background: Background, effects: Effects = NO_EFFECTS) -> Rendered:
    """The requested ``output`` (one of ``OUTPUTS``) from a photo, its matte and trimap, with
    the ``effects`` that apply to it (``effects_over``)."""
    if output == "trimap":
        return Rendered(trimap)
    if output == "alpha":
        return Rendered(to_uint8(matte.alpha))
    if output == "foreground":
        return Rendered(to_uint8(matte.foreground))
    if is_transparent(output, background):
        return Rendered(cutout(matte.foreground, matte.alpha))
    behind = background.behind(photo.rgb, matte.alpha)
    applied = effects_over(effects, output, background)
    foreground, behind = apply_effects(matte.foreground, matte.alpha, behind, effects, applied)
    return Rendered(composite(foreground, matte.alpha, behind), applied=applied)


def unchanged(photo: Photo) -> np.ndarray:
    """The photo as it came: RGB, or RGBA when it had its own alpha."""
    return photo.rgb if photo.alpha is None else np.dstack([photo.rgb, to_uint8(photo.alpha)])


def matte_and_render(matter: Matter, photo: Photo, trimap: np.ndarray, people_count: int, *,
                     background: Background, output: str = "composite",
                     if_no_person: str = "error", timer: StageTimer | None = None,
                     hint: Hint | None = None, effects: Effects = NO_EFFECTS) -> Rendered:
    """Everything after the trimap: the matte and the requested output. With nobody found,
    ``if_no_person`` decides: ``error`` raises ``NoPersonFound``, ``original`` gives the photo
    back unchanged, ``empty`` the background alone. ``hint``: the one merged into ``trimap``,
    whose edge strokes the matter leaves unrefined; ``effects``: see ``render``."""
    timer = timer or StageTimer()
    if people_count == 0 and if_no_person == "error":
        raise NoPersonFound("No person was found in the image. Send if_no_person=original to "
                            "get the photo back unchanged, or if_no_person=empty to get the "
                            "background alone.")
    if people_count == 0 and if_no_person == "original":
        return Rendered(unchanged(photo), unchanged=True)
    with timer.stage("matting"):
        matte = matte_people(matter, photo, trimap, people_count,
                             None if hint is None else hint.edges)
    with timer.stage("compositing"):
        return render(output, photo, matte, trimap, background, effects)


def warm_up(segmenter: PersonSegmenter | None = None, matter: Matter | None = None) -> None:
    """Run each model once on a tiny input, so that compiling and allocating happen at
    start-up, not in the first request."""
    if segmenter is not None:
        segmenter.segment(np.zeros((64, 64, 3), np.uint8), score_threshold=1.0)
    if matter is not None:
        trimap = np.full((32, 32), BACKGROUND, np.uint8)
        trimap[8:24, 8:24] = UNKNOWN
        trimap[12:20, 12:20] = FOREGROUND
        matter.matte(np.zeros((32, 32, 3), np.uint8), trimap)
