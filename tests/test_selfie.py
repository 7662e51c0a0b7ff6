"""The selfie segmenter's pure parts."""

import numpy as np

from background_replacement.segmenters.selfie import mean_probability


def test_mean_probability_averages_and_clips():
    ramp = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    mean = mean_probability([ramp, 1 - ramp, np.full((3, 4), 1.6, np.float32)])
    assert mean.dtype == np.float32 and mean.shape == (3, 4)
    assert np.allclose(mean, 2.6 / 3, atol=1e-6)
    assert np.array_equal(mean_probability([ramp * 2, ramp * 2]), np.clip(ramp * 2, 0, 1))
