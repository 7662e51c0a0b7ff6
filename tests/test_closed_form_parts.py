"""Closed-form matting's Laplacian and foreground in NumPy (no numba) against pymatting's,
and a new process that mattes without compiling anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from background_replacement.matters.closed_form_parts import (
    estimate_foreground_ml,
    laplacian_rows,
)
from testing.launcher import ROOT
from tests.conftest import EXAMPLES


@pytest.mark.parametrize("shape", [(37, 51), (3, 3), (2, 9), (1, 1), (64, 5)])
def test_the_laplacians_rows_are_pymattings(shape):
    from pymatting import cf_laplacian

    rng = np.random.default_rng(sum(shape))
    image = rng.random((*shape, 3))
    unknown = rng.random(shape) < 0.4
    unknown[: shape[0] // 4] = False  # windows that are wholly known too
    expected = cf_laplacian(image, epsilon=3e-5, is_known=~unknown)[unknown.ravel()]
    mine = laplacian_rows(image, 3e-5, unknown)
    assert mine.shape == expected.shape
    assert abs(mine - expected).max() < 1e-12


def test_the_foreground_is_pymattings_method():
    """Jacobi sweeps where pymatting sweeps in place: on a soft disc over the astronaut (a
    40 px band of partial alpha), a composite differs from pymatting's by 0.13 levels on
    average and 11 at most (measured), while both stop as far short of the converged colours
    (0.41 and 0.31 levels on average)."""
    from pymatting import estimate_foreground_ml as pymattings

    image = np.asarray(Image.open(EXAMPLES / "astronaut.png").convert("RGB")) / 255.0
    yy, xx = np.mgrid[:512, :512]
    alpha = np.clip((200 - np.hypot(yy - 300, xx - 256)) / 40, 0, 1)
    mine, theirs = estimate_foreground_ml(image, alpha), pymattings(image, alpha)
    converged = pymattings(image, alpha, n_small_iterations=20, n_big_iterations=8)
    assert mine.dtype == np.float32 and mine.shape == image.shape

    def shown(foreground: np.ndarray, other: np.ndarray) -> np.ndarray:
        return np.abs(alpha[..., None] * (foreground - other)) * 255  # levels in a composite

    assert shown(mine, theirs).mean() < 0.2 and shown(mine, theirs).max() < 16
    assert shown(mine, converged).mean() < 1.5 * shown(theirs, converged).mean()


def test_a_new_process_mattes_without_numba_or_a_cache(tmp_path):
    """The first replace() compiles nothing: numba is never imported, so no cache is
    needed and a read-only install starts as fast as any."""
    script = ("import json, sys\n"
              "from background_replacement import BackgroundReplacer\n"
              "replacer = BackgroundReplacer({'segmenter': 'selfie', 'matter': 'closed-form'})\n"
              "alpha = replacer.replace_array(sys.argv[1], output='alpha')\n"
              "print(json.dumps([int((alpha > 127).sum()),\n"
              "                  sorted(n for n in ('numba', 'pymatting', 'llvmlite')\n"
              "                         if n in sys.modules)]))\n")
    done = subprocess.run([sys.executable, "-c", script, str(EXAMPLES / "astronaut.png")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "absent")})
    assert done.returncode == 0, done.stderr[-2000:]
    opaque, imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert imported == [] and opaque > 10_000
    assert not (tmp_path / "absent").exists()
