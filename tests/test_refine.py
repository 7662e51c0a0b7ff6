"""Confining alpha's fractional values to the person's edge."""

import numpy as np

from background_replacement.refine import (
    REFERENCE_SIDE,
    TRANSITION_RADIUS,
    confine_transition,
    transition_radius,
)


def disc_with_haze(size=100, radius=30):
    """A disc of alpha 1 with a soft 2 px rim, faint haze far outside, a faded patch far inside."""
    rows, cols = np.mgrid[:size, :size]
    distance = np.hypot(rows - size / 2, cols - size / 2)
    alpha = np.clip((radius - distance) / 4 + 0.5, 0, 1).astype(np.float32)
    alpha[2:10, 2:10] = 0.2  # haze over the background, > 30 px from the rim
    alpha[45:55, 45:55] = 0.7  # the person fading, > 20 px inside the rim
    return alpha, distance


def test_confine_keeps_the_rim_and_the_outline_and_clears_haze_far_from_it():
    alpha, distance = disc_with_haze()
    confined = confine_transition(alpha, 3.0)
    assert np.array_equal(confined >= 0.5, alpha >= 0.5)
    rim = np.abs(distance - 30) <= 2
    assert np.array_equal(confined[rim], alpha[rim])
    assert np.all(confined[2:10, 2:10] == 0) and np.all(confined[45:55, 45:55] == 1)
    assert np.all((confined == 0) | (confined == 1) | (np.abs(distance - 30) <= 4))


def test_confine_leaves_a_hard_matte_and_an_empty_one_alone():
    alpha, _ = disc_with_haze()
    hard = (alpha >= 0.5).astype(np.float32)
    assert np.array_equal(confine_transition(hard, 3.0), hard)
    empty = np.zeros((20, 30), np.float32)
    assert np.array_equal(confine_transition(empty, 3.0), empty)


def test_radius_follows_the_short_side_and_is_at_least_a_pixel():
    assert transition_radius((REFERENCE_SIDE * 4 // 3, REFERENCE_SIDE)) == TRANSITION_RADIUS
    assert transition_radius((720, 1280, 3)) == TRANSITION_RADIUS * 720 / REFERENCE_SIDE
    assert transition_radius((60, 80)) == 1.0
