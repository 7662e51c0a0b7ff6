"""Compositing: pure functions."""

import cv2
import numpy as np
import pytest

from background_replacement.compositing import (
    blurred_background,
    composite,
    cover,
    cutout,
)

RNG = np.random.default_rng(7)


def random_matte(height=30, width=40):
    foreground = RNG.random((height, width, 3)).astype(np.float32)
    alpha = RNG.random((height, width)).astype(np.float32)
    background = RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return foreground, alpha, background


def test_alpha_one_gives_the_foreground_exactly():
    foreground, alpha, background = random_matte()
    alpha[:] = 1.0
    expected = np.clip(foreground * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(composite(foreground, alpha, background), expected)


def test_alpha_zero_gives_the_background_exactly():
    foreground, alpha, background = random_matte()
    alpha[:] = 0.0
    assert np.array_equal(composite(foreground, alpha, background), background)


def test_half_alpha_mixes_and_rounds_once():
    foreground = np.full((1, 1, 3), 1.0, np.float32)
    alpha = np.full((1, 1), 0.5, np.float32)
    background = np.zeros((1, 1, 3), np.uint8)
    assert composite(foreground, alpha, background)[0, 0, 0] == 128  # 127.5 rounded


def test_composite_rejects_mismatched_sizes():
    foreground, alpha, background = random_matte()
    with pytest.raises(ValueError):
        composite(foreground, alpha, background[:10])


def test_cutout_alpha_channel_is_the_matte():
    foreground, alpha, _ = random_matte()
    rgba = cutout(foreground, alpha)
    assert rgba.shape == (30, 40, 4) and rgba.dtype == np.uint8
    assert np.array_equal(rgba[..., 3], np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8))


def disc_extent(image: np.ndarray) -> tuple[int, int]:
    dark = image[..., 0] < 128
    rows, cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize(("source", "target"), [((60, 200), (120, 90)), ((200, 60), (90, 160)),
                                                ((300, 400), (100, 100))])
def test_cover_keeps_the_aspect_ratio(source, target):
    height, width = source
    background = np.full((height, width, 3), 255, np.uint8)
    radius = min(height, width) // 4
    cv2.circle(background, (width // 2, height // 2), radius, (0, 0, 0), thickness=-1)
    covered = cover(background, *target)
    assert covered.shape == (*target, 3)
    disc_h, disc_w = disc_extent(covered)
    assert abs(disc_h - disc_w) <= 2, "the disc was stretched into an ellipse"
    scale = max(target[0] / height, target[1] / width)
    assert abs(disc_h - 2 * radius * scale) <= 3


def test_cover_centre_crops():
    background = np.zeros((10, 30, 3), np.uint8)
    background[:, 10:20] = 255  # the middle third
    covered = cover(background, 10, 10)
    assert np.all(covered == 255)


def test_blur_does_not_bleed_the_person_into_the_background():
    image = np.zeros((80, 80, 3), np.uint8)
    image[:, :] = (0, 0, 255)
    image[20:60, 20:60] = (255, 0, 0)  # the person
    alpha = np.zeros((80, 80), np.float32)
    alpha[20:60, 20:60] = 1.0
    blurred = blurred_background(image, alpha)
    assert blurred[10, 10, 0] < 5 and blurred[10, 10, 2] > 250
    assert blurred[18, 40, 0] < 5  # right beside the person: still background colour
