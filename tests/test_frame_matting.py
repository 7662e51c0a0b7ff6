"""A video frame matted within the per-frame budget: shrunk, matted by the core in process (real
selfie and closed-form models), brought back to the frame's size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from background_replacement import BackgroundReplacer
from background_replacement.params import TrimapParams, scaled_band
from background_replacement.video.frame_matting import (
    DEFAULT_SOLVE_PIXELS,
    LocalMatting,
    Matted,
    matte_frame,
)
from background_replacement.video.media import read_frames
from tests.conftest import shared_data


@pytest.fixture(scope="module")
def thanks_rgb() -> np.ndarray:
    """The first frame of a real clip, RGB 480×640."""
    return next(read_frames(shared_data("videos", "asl_thanks.mkv"))).rgb


class Recording:
    """A ``LocalMatting`` that remembers the sizes and parameters it was asked to matte."""

    def __init__(self, local: LocalMatting) -> None:
        self.local, self.asked = local, []

    def matte(self, image_rgb: np.ndarray, params: TrimapParams) -> Matted:
        self.asked.append((image_rgb.shape, params))
        return self.local.matte(image_rgb, params)

    def backgrounds(self, width: int, height: int):
        return self.local.backgrounds(width, height)

    def max_in_flight(self) -> int:
        return self.local.max_in_flight()


@pytest.fixture(scope="module")
def local() -> Recording:
    return Recording(LocalMatting(BackgroundReplacer({"segmenter": "selfie",
                                                      "matter": "closed-form"})))


def test_the_band_is_scaled_with_the_frame():
    params = TrimapParams(erode_iterations=5, dilate_iterations=0, kernel_size=7)
    half = scaled_band(params, 0.5)
    assert (half.erode_iterations, half.dilate_iterations) == (2, 0)  # none stays none
    assert (half.kernel_size, half.fg_threshold, half.bg_threshold) == (7, 0.8, 0.4)
    assert scaled_band(params, 0.01).erode_iterations == 1  # one stays at least one


def test_a_frame_within_the_budget_stays_close_to_the_full_size_matte(local, thanks_rgb):
    full = matte_frame(local, thanks_rgb, solve_pixels=0)
    assert local.asked[-1] == ((480, 640, 3), TrimapParams())
    budget = matte_frame(local, thanks_rgb)
    shape, params = local.asked[-1]
    assert shape[0] * shape[1] == DEFAULT_SOLVE_PIXELS == 320 * 240
    assert (params.erode_iterations, params.dilate_iterations) == (2, 2)
    assert budget.alpha.shape == (480, 640) and budget.foreground.shape == (480, 640, 3)
    assert np.abs(budget.alpha - full.alpha).mean() < 0.01
    person, person_full = budget.alpha >= 0.5, full.alpha >= 0.5
    assert np.count_nonzero(person & person_full) / np.count_nonzero(person | person_full) > 0.98
    # Inside the person the colours are the frame's own, as sharp as it is.
    inside = cv2.erode((budget.alpha >= 1.0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert inside.mean() > 0.1
    assert np.array_equal(np.round(budget.foreground[inside] * 255), thanks_rgb[inside])


def test_nobody_in_the_frame_is_alpha_zero(local):
    room = next(read_frames(shared_data("videos", "one-by-one-person-detection.mp4"),
                            start=45)).rgb
    matted = matte_frame(local, room)
    assert matted.people_count == 0 and not matted.alpha.any()
