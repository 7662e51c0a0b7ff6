"""The copy of an image a segmenter sees, and the way back to the input's size."""

import numpy as np
import pytest

from background_replacement.pipeline import SEGMENT_MAX_ASPECT, SEGMENT_MAX_SIDE, SegmentationView


@pytest.mark.parametrize("shape", [(1, 1), (1, 100_000), (100_000, 1), (2, 40_000),
                                   (480, 640), (20_000, 3_000), (5_000, 5_000), (10, 81)])
def test_view_is_bounded_and_comes_back_at_the_input_size(shape):
    image = np.random.default_rng(0).integers(0, 255, (*shape, 3), dtype=np.uint8)
    view = SegmentationView.of(image)
    rows, cols = view.pixels.shape[:2]
    assert max(rows, cols) <= SEGMENT_MAX_SIDE
    assert max(rows, cols) <= SEGMENT_MAX_ASPECT * min(rows, cols)
    assert view.pixels.dtype == np.uint8 and view.pixels.shape[2] == 3
    probability = np.zeros((rows, cols), np.float32)
    probability[view.inner] = 1.0  # the image itself, not the padding
    restored = view.restore(probability)
    assert restored.shape == shape and restored.dtype == np.float32
    assert np.all(restored == 1.0)


def test_an_ordinary_photo_is_seen_as_it_is():
    image = np.zeros((720, 1280, 3), np.uint8)
    view = SegmentationView.of(image)
    assert view.pixels is image
    probability = np.random.default_rng(1).random((720, 1280)).astype(np.float32)
    assert np.array_equal(view.restore(probability), probability)


def test_a_thin_picture_keeps_its_content_in_the_middle():
    image = np.zeros((1, 400, 3), np.uint8)
    image[0, 100:300] = 255
    view = SegmentationView.of(image)
    assert np.array_equal(view.pixels[view.inner], image)
