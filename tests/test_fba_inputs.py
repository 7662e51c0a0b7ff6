"""Preprocessing for FBA Matting: trimap encodings, distance channels, padding and cropping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from background_replacement.fba.inputs import (
    DISTANCE_SIGMAS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    crop_to,
    distance_channels,
    network_inputs,
    pad_image_and_trimap,
    pad_to_multiple,
    padded_size,
    two_channel_trimap,
)

H, W = 48, 64


def _unknown_trimap(height: int = H, width: int = W) -> np.ndarray:
    return np.full((height, width), 128, dtype=np.uint8)


def _gaussian(distance: float, sigma: float) -> float:
    return math.exp(-(distance**2) / (2 * sigma**2))


def test_sigmas_are_fractions_of_320() -> None:
    np.testing.assert_allclose(DISTANCE_SIGMAS, (0.02 * 320, 0.08 * 320, 0.16 * 320))


def test_two_channel_trimap_mapping() -> None:
    trimap = np.array([[0, 128, 255], [64, 0, 254]], dtype=np.uint8)
    two = two_channel_trimap(trimap)
    assert two.shape == (2, 3, 2)
    assert two.dtype == np.float32
    np.testing.assert_array_equal(two[..., 0], [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(two[..., 1], [[0, 0, 1], [0, 0, 0]])


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), dtype=np.float32),
        np.zeros((4, 4, 1), dtype=np.uint8),
        np.zeros((0, 4), dtype=np.uint8),
        [[0, 255]],
    ],
)
def test_two_channel_trimap_rejects_bad_input(bad: object) -> None:
    with pytest.raises(ValueError):
        two_channel_trimap(bad)  # type: ignore[arg-type]


def test_distance_channels_background_only() -> None:
    trimap = _unknown_trimap()
    trimap[10, 10] = 0
    channels = distance_channels(two_channel_trimap(trimap))
    assert channels.shape == (H, W, 6)
    assert channels.dtype == np.float32
    # Foreground is absent: its three channels are zero everywhere.
    assert not channels[..., 3:].any()
    for i, sigma in enumerate(DISTANCE_SIGMAS):
        assert channels[10, 10, i] == pytest.approx(1.0)
        # Straight along a row: d = 7; along a 3-4-5 diagonal (times 2): d = 10.
        assert channels[10, 17, i] == pytest.approx(_gaussian(7, sigma), rel=1e-5)
        assert channels[16, 18, i] == pytest.approx(_gaussian(10, sigma), rel=1e-5)
    # The three widths are distinct and ordered: the narrowest decays fastest.
    assert channels[10, 17, 0] < channels[10, 17, 1] < channels[10, 17, 2]


def test_distance_channels_foreground_only_uses_last_three() -> None:
    trimap = _unknown_trimap()
    trimap[30, 40] = 255
    channels = distance_channels(two_channel_trimap(trimap))
    assert not channels[..., :3].any()
    for i, sigma in enumerate(DISTANCE_SIGMAS):
        assert channels[30, 40, 3 + i] == pytest.approx(1.0)
        assert channels[30, 45, 3 + i] == pytest.approx(_gaussian(5, sigma), rel=1e-5)


def test_distance_channels_both_classes_background_first() -> None:
    trimap = _unknown_trimap()
    trimap[5, 5] = 0
    trimap[40, 60] = 255
    channels = distance_channels(two_channel_trimap(trimap))
    far = math.hypot(40 - 5, 60 - 5)
    for i, sigma in enumerate(DISTANCE_SIGMAS):
        assert channels[5, 5, i] == pytest.approx(1.0)
        assert channels[40, 60, 3 + i] == pytest.approx(1.0)
        assert channels[40, 60, i] == pytest.approx(_gaussian(far, sigma), rel=1e-4, abs=1e-12)
        assert channels[5, 5, 3 + i] == pytest.approx(_gaussian(far, sigma), rel=1e-4, abs=1e-12)


def test_distance_channels_all_unknown_is_zero() -> None:
    channels = distance_channels(two_channel_trimap(_unknown_trimap()))
    assert channels.shape == (H, W, 6)
    assert not channels.any()


def test_padded_size() -> None:
    assert padded_size(45, 61) == (48, 64)
    assert padded_size(48, 64) == (48, 64)
    assert padded_size(1, 9) == (8, 16)


def test_pad_reflects_image_and_crop_restores_it() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(45, 61, 3), dtype=np.uint8)
    padded = pad_to_multiple(image)
    assert padded.shape == (48, 64, 3)
    assert padded.dtype == np.uint8
    # Reflection without repeating the edge row/column.
    np.testing.assert_array_equal(padded[45, :61], image[43])
    np.testing.assert_array_equal(padded[47, :61], image[41])
    np.testing.assert_array_equal(padded[:45, 61], image[:, 59])
    np.testing.assert_array_equal(crop_to(padded, 45, 61), image)


def test_pad_leaves_multiples_alone() -> None:
    array = np.arange(H * W, dtype=np.float32).reshape(H, W)
    np.testing.assert_array_equal(pad_to_multiple(array), array)
    assert pad_to_multiple(array).shape == (H, W)


def test_trimap_padding_is_unknown() -> None:
    image = np.zeros((45, 61, 3), dtype=np.uint8)
    trimap = np.full((45, 61), 255, dtype=np.uint8)
    trimap[:, :20] = 0
    padded_image, padded_trimap = pad_image_and_trimap(image, trimap)
    assert padded_image.shape == (48, 64, 3)
    assert padded_trimap.shape == (48, 64)
    assert (padded_trimap[45:] == 128).all()
    assert (padded_trimap[:, 61:] == 128).all()
    np.testing.assert_array_equal(padded_trimap[:45, :61], trimap)


def test_pad_rejects_mismatched_sizes() -> None:
    with pytest.raises(ValueError):
        pad_image_and_trimap(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9), np.uint8))


def test_network_inputs_shapes_and_values() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(45, 61, 3), dtype=np.uint8)
    trimap = _unknown_trimap(45, 61)
    trimap[:10] = 0
    trimap[30:] = 255
    inputs = network_inputs(image, trimap)
    assert inputs.image.shape == (1, 3, 48, 64)
    assert inputs.two_chan_trimap.shape == (1, 2, 48, 64)
    assert inputs.image_n.shape == (1, 3, 48, 64)
    assert inputs.trimap_transformed.shape == (1, 6, 48, 64)
    for array in inputs:
        assert array.dtype == np.float32

    image01 = image.astype(np.float32) / 255
    np.testing.assert_allclose(inputs.image[0, :, :45, :61].transpose(1, 2, 0), image01)
    expected_n = (image01 - IMAGENET_MEAN) / IMAGENET_STD
    np.testing.assert_allclose(
        inputs.image_n[0, :, :45, :61].transpose(1, 2, 0), expected_n, rtol=1e-6, atol=1e-6
    )
    # The padded band invents no known pixels ...
    assert not inputs.two_chan_trimap[0, :, 45:].any()
    assert not inputs.two_chan_trimap[0, :, :, 61:].any()
    # ... so inside the picture the distance channels equal those of the unpadded trimap.
    unpadded = distance_channels(two_channel_trimap(trimap))
    np.testing.assert_allclose(
        inputs.trimap_transformed[0, :, :45, :61].transpose(1, 2, 0), unpadded, atol=1e-7
    )


def test_network_inputs_rejects_bad_image() -> None:
    trimap = _unknown_trimap()
    with pytest.raises(ValueError):
        network_inputs(np.zeros((H, W, 3), dtype=np.float32), trimap)
    with pytest.raises(ValueError):
        network_inputs(np.zeros((H, W), dtype=np.uint8), trimap)
