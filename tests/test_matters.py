"""The matters: closed-form on a synthetic soft edge, FBA's loading path with random weights."""

import logging

import numpy as np
import pytest
import torch

from background_replacement.fba import (
    FLOAT32,
    REDUCED_PRECISION_STAGES,
    STAGES,
    Precision,
    build_fba,
)
from background_replacement.matters import MatterUnavailable, load_matter
from background_replacement.matters.base import region
from background_replacement.matters.closed_form import ClosedFormMatter
from background_replacement.matters.fba_matter import fba_precision
from background_replacement.refine import transition_radius
from background_replacement.settings import Settings


def soft_edge_scene(height=60, width=80):
    """A red person over a textured blue background, with a known soft left-to-right edge."""
    columns = np.clip((np.arange(width) - 30) / 20.0, 0, 1)
    alpha = np.tile(columns, (height, 1)).astype(np.float32)
    rng = np.random.default_rng(3)
    foreground = np.zeros((height, width, 3), np.float32)
    foreground[..., 0] = 0.9
    background = np.zeros((height, width, 3), np.float32)
    background[..., 2] = 0.6 + 0.3 * rng.random((height, width))
    image = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    trimap = np.full((height, width), 128, np.uint8)
    trimap[:, :25] = 0
    trimap[:, 55:] = 255
    return (image * 255 + 0.5).astype(np.uint8), trimap, alpha


def test_closed_form_recovers_a_soft_edge():
    image, trimap, truth = soft_edge_scene()
    # The solve itself: a 20 px ramp is wider than the default's confined transition.
    matte = ClosedFormMatter(confine=False).matte(image, trimap)
    assert matte.alpha.dtype == np.float32 and matte.alpha.shape == truth.shape
    assert np.abs(matte.alpha - truth).mean() < 0.05
    assert np.all(matte.alpha[trimap == 0] == 0) and np.all(matte.alpha[trimap == 255] == 1)
    # Recovered foreground colour in the soft band is red, not the blue it was mixed with.
    band = (truth > 0.3) & (truth < 0.9)
    assert matte.foreground[band][:, 0].mean() > 0.7
    assert matte.foreground[band][:, 2].mean() < 0.3


def test_closed_form_confines_alpha_to_the_edge_and_keeps_the_outline():
    image, trimap, _ = soft_edge_scene()
    solved = ClosedFormMatter(confine=False).matte(image, trimap)
    matte = ClosedFormMatter().matte(image, trimap)
    assert np.array_equal(matte.alpha >= 0.5, solved.alpha >= 0.5)
    radius = transition_radius(trimap.shape)
    fractional = (matte.alpha > 0) & (matte.alpha < 1)
    assert fractional.any()
    outline_columns = np.flatnonzero((matte.alpha >= 0.5).any(axis=0))[0]
    assert np.all(np.abs(np.nonzero(fractional)[1] - outline_columns) <= radius + 1)
    # Pixels made opaque show the photo, as every opaque pixel does.
    opaque = matte.alpha == 1
    assert np.allclose(matte.foreground[opaque], image[opaque] / 255.0)


def test_closed_form_leaves_alpha_as_solved_where_free():
    image, trimap, _ = soft_edge_scene()
    free = np.zeros(trimap.shape, bool)
    free[:30, 25:55] = True  # an edge stroke over the top half of the unknown band
    solved = ClosedFormMatter(confine=False).matte(image, trimap)
    confined = ClosedFormMatter().matte(image, trimap)
    matte = ClosedFormMatter().matte(image, trimap, free)
    assert np.array_equal(matte.alpha[free], solved.alpha[free])
    assert np.array_equal(matte.alpha[~free], confined.alpha[~free])
    # The stroke keeps the 20 px ramp that confinement cuts to a few pixels.
    assert not np.array_equal(solved.alpha[free], confined.alpha[free])


def test_closed_form_without_unknown_pixels_returns_the_trimap():
    image = np.zeros((20, 20, 3), np.uint8)
    trimap = np.zeros((20, 20), np.uint8)
    trimap[5:15, 5:15] = 255
    matte = ClosedFormMatter().matte(image, trimap)
    assert np.array_equal(matte.alpha, (trimap == 255).astype(np.float32))


def test_region_grows_and_clips():
    mask = np.zeros((50, 40), bool)
    mask[10:20, 30:35] = True
    rows, cols = region(mask, 8)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (2, 28, 22, 40)
    assert region(np.zeros((5, 5), bool), 3) is None


def test_matter_rejects_bad_input():
    with pytest.raises(ValueError):
        ClosedFormMatter().matte(np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        ClosedFormMatter().matte(np.zeros((10, 10, 3), np.uint8), np.zeros((9, 10), np.uint8))


@pytest.fixture(scope="module")
def fba_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "FBA.pth"
    torch.save(build_fba().state_dict(), path)
    return path


@pytest.mark.slow
def test_fba_backend_with_random_weights(fba_weights):
    matter = load_matter(Settings.load({"matter": "fba", "fba_weights": str(fba_weights)}))
    assert matter.name == "fba"
    image, trimap, _ = soft_edge_scene(45, 61)  # sides not multiples of 8
    matte = matter.matte(image, trimap)
    assert matte.alpha.shape == (45, 61) and matte.foreground.shape == (45, 61, 3)
    assert matte.alpha.min() >= 0 and matte.alpha.max() <= 1
    assert np.all(matte.alpha[trimap == 0] == 0) and np.all(matte.alpha[trimap == 255] == 1)
    opaque = trimap == 255
    assert np.allclose(matte.foreground[opaque], image[opaque] / 255.0)


def test_explicit_fba_without_weights_fails_naming_file_and_command(tmp_path):
    missing = tmp_path / "FBA.pth"
    with pytest.raises(MatterUnavailable) as error:
        load_matter(Settings.load({"matter": "fba", "fba_weights": str(missing)}))
    assert str(missing) in str(error.value)
    assert "remove-background-models fetch fba" in str(error.value)


def test_auto_falls_back_to_closed_form_and_says_so(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    matter = load_matter(Settings.load({"matter": "auto",
                                        "fba_weights": str(tmp_path / "none.pth")}))
    assert matter.name == "closed-form"
    assert "fba unavailable" in caplog.text


@pytest.mark.slow
def test_fba_over_its_pixel_limit_runs_smaller_and_answers_full_size(fba_weights):
    from background_replacement.fba import load_fba
    from background_replacement.matters.fba_matter import FBAMatter

    image, trimap, _ = soft_edge_scene(60, 80)
    matter = FBAMatter(load_fba(fba_weights), max_pixels=1200)
    matte = matter.matte(image, trimap)
    assert matte.alpha.shape == (60, 80) and matte.foreground.shape == (60, 80, 3)
    assert np.all(matte.alpha[trimap == 0] == 0) and np.all(matte.alpha[trimap == 255] == 1)


def test_solve_scale():
    from background_replacement.scaling import solve_scale

    assert solve_scale(1000, 0) == 1.0 and solve_scale(1000, 2000) == 1.0
    assert solve_scale(40_000, 10_000) == pytest.approx(0.5)


def test_precision_settings_choose_fba_stages():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert fba_precision("float32", cpu) == FLOAT32
    # On CUDA, auto means float16 on the same stages (no GPU needed to decide it).
    assert fba_precision("auto", cuda) == Precision(torch.float16, REDUCED_PRECISION_STAGES)
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        assert fba_precision("auto", cpu) == Precision(torch.bfloat16, REDUCED_PRECISION_STAGES)
        assert fba_precision("bfloat16", cpu) == Precision(torch.bfloat16, frozenset(STAGES))
    else:
        assert fba_precision("auto", cpu) == FLOAT32
        with pytest.raises(RuntimeError, match="bf16"):
            fba_precision("bfloat16", cpu)
    with pytest.raises(RuntimeError, match="CUDA"):
        fba_precision("float16", cpu)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (1, 300), (300, 1), (2, 500), (5, 3)])
def test_closed_form_on_thin_pictures_keeps_size_and_known_regions(shape):
    """Closed-form's 3×3 windows need 3 pixels a side: thin crops are solved padded."""
    image, _, _ = soft_edge_scene(*shape)
    trimap = np.zeros(shape, np.uint8)
    trimap[:, shape[1] // 3:] = 128
    trimap[:, 2 * shape[1] // 3:] = 255
    matte = ClosedFormMatter().matte(image, trimap)
    assert matte.alpha.shape == shape and matte.foreground.shape == (*shape, 3)
    assert np.all(matte.alpha[trimap == 0] == 0) and np.all(matte.alpha[trimap == 255] == 1)
    assert np.all((matte.alpha >= 0) & (matte.alpha <= 1))


def test_fba_says_which_box_it_solves_and_at_what_scale():
    from background_replacement.matters.fba_matter import CONTEXT_MARGIN, fba_solve_plan
    from background_replacement.trimap import FOREGROUND, UNKNOWN

    trimap = np.zeros((600, 800), np.uint8)
    trimap[200:300, 300:400] = UNKNOWN
    trimap[230:270, 330:370] = FOREGROUND
    box, scale = fba_solve_plan(trimap, 0)
    assert box == (slice(200 - CONTEXT_MARGIN, 300 + CONTEXT_MARGIN),
                   slice(300 - CONTEXT_MARGIN, 400 + CONTEXT_MARGIN)) and scale == 1
    assert fba_solve_plan(trimap, 100 * 100)[1] < 1
    trimap[trimap == UNKNOWN] = FOREGROUND
    assert fba_solve_plan(trimap, 0)[0] is None  # nothing unknown: the trimap is the matte
