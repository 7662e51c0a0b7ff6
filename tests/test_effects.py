"""The composite's effects: pure functions on small synthetic scenes, and where the pipeline
applies them."""

import cv2
import numpy as np
import pytest

from background_replacement import effects
from background_replacement.background import Blur, Colour, Picture, Transparent
from background_replacement.images import Photo
from background_replacement.matters import Matte
from background_replacement.params import EFFECT_PARAMETERS, NO_EFFECTS, Effects
from background_replacement.pipeline import render

HEIGHT, WIDTH = 240, 200


def scene(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A textured RGB uint8 picture under a warm light and a soft person-shaped alpha."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.random((HEIGHT, WIDTH, 3), dtype=np.float32), (0, 0), 2)
    texture = (texture - texture.min()) / np.ptp(texture)
    linear = effects.to_linear(texture) * np.float32([1.0, 0.85, 0.7])
    rgb = (effects.to_srgb(linear) * 255 + 0.5).astype(np.uint8)
    alpha = np.zeros((HEIGHT, WIDTH), np.float32)
    cv2.ellipse(alpha, (100, 130), (40, 90), 0, 0, 360, 1.0, -1)
    cv2.circle(alpha, (100, 40), 22, 1.0, -1)
    return rgb, cv2.GaussianBlur(alpha, (0, 0), 1.5)


def test_harmonise_takes_out_a_colour_cast_and_leaves_a_person_in_place_alone():
    rgb, alpha = scene()
    original = rgb.astype(np.float32) / 255
    cast = effects.to_srgb(effects.to_linear(original) * np.float32([0.5, 1.0, 1.8]))
    inside = alpha > 0.99
    before = np.abs(cast - original)[inside].mean()
    after = np.abs(effects.harmonise(cast, alpha, rgb, 1.0) - original)[inside].mean()
    assert after < 0.6 * before  # the dead zone and the bound leave some of a strong cast
    kept = effects.harmonise(original, alpha, rgb, 1.0)
    assert np.abs(kept - original)[inside].mean() * 255 < 1.0
    assert np.array_equal(effects.harmonise(cast, alpha, rgb, 0.0), cast)


def test_harmonise_strength_is_a_share_of_the_correction():
    rgb, alpha = scene()
    cast = effects.to_srgb(effects.to_linear(rgb / np.float32(255)) * np.float32([0.6, 1, 1.6]))
    full = np.log(effects.harmonisation_gains(cast, alpha, rgb, 1.0))
    half = np.log(effects.harmonisation_gains(cast, alpha, rgb, 0.5))
    assert np.abs(full).max() > 0.1
    np.testing.assert_allclose(half, full / 2, atol=1e-5)
    assert np.abs(full).max() <= effects.MAX_CORRECTION + 1e-6


def test_light_wrap_reaches_the_edge_only():
    rgb, alpha = scene()
    foreground = np.full((HEIGHT, WIDTH, 3), 0.5, np.float32)
    blue = np.zeros_like(rgb)
    blue[..., 2] = 255
    wrapped = effects.light_wrap(foreground, alpha, blue, 1.0)
    assert np.array_equal(wrapped[130, 100], foreground[130, 100])  # deep inside
    edge = (alpha > 0.05) & (alpha < 0.5)
    assert wrapped[edge][:, 2].mean() > 0.7 and wrapped[edge][:, 0].mean() < 0.3
    assert np.array_equal(effects.light_wrap(foreground, alpha, blue, 0.0), foreground)


def test_shadow_falls_on_the_ground_behind_and_leans_with_the_angle():
    _, alpha = scene()
    alpha[:, :] = 0
    cv2.ellipse(alpha, (100, 150), (25, 70), 0, 0, 360, 1.0, -1)  # feet at row 220
    straight = effects.shadow_map(alpha, 0.0)
    assert straight[:60].max() < 0.01, "nothing above the people's upper part"
    assert straight[222, 100] > 0.3, "a contact shadow under the feet"
    behind = straight * (alpha < 0.01)
    rows, cols = np.nonzero(behind > 0.05)
    assert rows.min() > 150 and abs(cols.mean() - 100) < 3
    leaning = effects.shadow_map(alpha, 40.0) * (alpha < 0.01)
    assert np.average(np.nonzero(leaning > 0.05)[1]) > 103
    grey = np.full((HEIGHT, WIDTH, 3), 200, np.uint8)
    shaded = effects.shade(grey, straight, 1.0)
    assert shaded[222, 100, 0] < 150 and np.array_equal(shaded[:60], grey[:60])
    assert not effects.shadow_map(np.zeros_like(alpha), 0.0).any()


def test_the_header_names_what_was_applied():
    chosen = Effects(harmonise=0.5, light_wrap=0.25, shadow=0.6)
    assert effects.plan(chosen, ground=True, picture=True).header(chosen) == \
        "harmonise=0.5, light_wrap=0.25, shadow=0.6, shadow_angle=0"
    assert effects.plan(chosen, ground=True, picture=False).header(chosen) == \
        "shadow=0.6, shadow_angle=0"
    assert effects.plan(NO_EFFECTS, ground=True, picture=True).header(NO_EFFECTS) == "none"


@pytest.mark.parametrize(("background", "output", "expected"), [
    (Picture(np.full((10, 10, 3), 90, np.uint8), "upload"), "composite",
     ("harmonise", "light_wrap", "shadow")),
    (Colour((0, 0, 255), "blue"), "composite", ("shadow",)),
    (Blur(), "composite", ("harmonise", "light_wrap")),
    (Transparent(), "composite", ()),
    (Colour((0, 0, 255), "blue"), "cutout", ()),
    (Colour((0, 0, 255), "blue"), "alpha", ()),
    (Colour((0, 0, 255), "blue"), "foreground", ()),
])
def test_render_applies_effects_only_where_they_belong(background, output, expected):
    rgb, alpha = scene()
    chosen = Effects(harmonise=1.0, light_wrap=1.0, shadow=1.0)
    photo = Photo(rgb=rgb, alpha=None)
    cast = effects.to_srgb(effects.to_linear(rgb / np.float32(255)) * np.float32([0.6, 1, 1.6]))
    matte = Matte(alpha, cast)
    trimap = np.zeros_like(rgb[..., 0])
    rendered = render(output, photo, matte, trimap, background, chosen)
    plain = render(output, photo, matte, trimap, background)
    assert rendered.applied.names == expected
    assert np.array_equal(rendered.pixels, plain.pixels) == (not expected)


@pytest.mark.parametrize("name", list(EFFECT_PARAMETERS))
def test_effects_out_of_range_are_refused(name):
    bounds = EFFECT_PARAMETERS[name]
    for value in (bounds.low - 0.1, bounds.high + 0.1, float("nan")):
        with pytest.raises(ValueError, match=name):
            Effects(**{name: value}).validate()
    assert Effects(**{name: bounds.high}).validate().to_form() == {name: f"{bounds.high:g}"}


def test_video_effects_hold_the_light_and_the_ground_steady():
    rgb, alpha = scene()
    chosen = Effects(harmonise=1.0, shadow=1.0)
    applied = effects.plan(chosen, ground=True, picture=True)
    cast = effects.to_srgb(effects.to_linear(rgb / np.float32(255)) * np.float32([0.6, 1, 1.6]))
    rng = np.random.default_rng(0)
    steady = effects.VideoEffects(chosen)
    changes = {"video": [], "alone": []}
    previous = {}
    for _ in range(12):
        noisy = np.clip(alpha + rng.normal(0, 0.05, alpha.shape).astype(np.float32), 0, 1)
        noisy[218 + rng.integers(0, 6):, 80:120] = 1.0  # the feet's lowest row jitters
        for key, (foreground, behind) in {
                "video": steady(cast, noisy, rgb, applied),
                "alone": effects.apply_effects(cast, noisy, rgb, chosen, applied)}.items():
            frame = np.concatenate([foreground.ravel(), behind.ravel() / 255.0])
            if key in previous:
                changes[key].append(np.abs(frame - previous[key]).mean())
            previous[key] = frame
    assert np.mean(changes["video"]) < 0.7 * np.mean(changes["alone"])
