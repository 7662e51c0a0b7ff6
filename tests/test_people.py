"""Which people to keep and the hints, as pure functions: the choice's grammar, resolving it
against the people found, the trimap of the people kept, the selfie model's people, hints."""

import numpy as np
import pytest

from background_replacement.hints import Hint, merge_hint
from background_replacement.images import Photo
from background_replacement.params import DEFAULT_PARAMS, scaled_band
from background_replacement.people import MAX_POINTS, NoSuchPerson, People, PeopleChoice
from background_replacement.pipeline import (
    band_scale,
    banded_trimap,
    trimap_for,
    trimap_of_people,
)
from background_replacement.segmenters.selfie import person_regions, split_regions
from background_replacement.trimap import BACKGROUND, FOREGROUND, UNKNOWN


def disc(shape: tuple[int, int], cx: float, cy: float, radius: float) -> np.ndarray:
    """A soft disc: probability 1 inside, falling to 0 over 12 px outside."""
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    distance = np.hypot(cols - cx, rows - cy) - radius
    return np.clip(1.0 - distance / 12.0, 0.0, 1.0).astype(np.float32)


@pytest.fixture
def two() -> People:
    """Two people side by side on 120×200: a small one on the left, a large one on the right."""
    shape = (120, 200)
    return People.of(np.stack([disc(shape, 50, 60, 20), disc(shape, 135, 60, 35)]), (0.9, 0.8))


@pytest.mark.parametrize(("people", "points", "expected"), [
    (None, None, PeopleChoice()),
    ("all", "", PeopleChoice()),
    (" ALL ", None, PeopleChoice()),
    ("largest", None, PeopleChoice(largest=True)),
    ("2, 0,2", None, PeopleChoice(indices=(0, 2))),
    ("", "10,20; 30.5,4", PeopleChoice(points=((10.0, 20.0), (30.5, 4.0)))),
    ("1", "3,4", PeopleChoice(indices=(1,), points=((3.0, 4.0),))),
    ("", "123456.25,7", PeopleChoice(points=((123456.25, 7.0),))),
])
def test_choice_grammar(people, points, expected):
    choice = PeopleChoice.parse(people, points)
    assert choice == expected
    assert PeopleChoice.parse(**choice.to_form()) == choice  # to_form speaks the same grammar


@pytest.mark.parametrize(("people", "points"), [
    ("first", None), ("-1", None), ("0,,1", None), ("1.5", None), ("0;1", None),
    (None, "10"), (None, "1,2,3"), (None, "x,y"), (None, ";".join(["1,1"] * (MAX_POINTS + 1))),
])
def test_malformed_choices_say_what_is_wrong(people, points):
    with pytest.raises(ValueError, match=r"'people'|'points'"):
        PeopleChoice.parse(people, points)


def test_python_forms_of_the_choice():
    assert PeopleChoice.of([2, 0, 2]) == PeopleChoice(indices=(0, 2))
    assert PeopleChoice.of("largest", [(1, 2)]) == PeopleChoice(largest=True, points=((1, 2),))
    assert PeopleChoice.of("all", [(1, 2)]) == PeopleChoice(points=((1.0, 2.0),))
    with pytest.raises(ValueError):
        PeopleChoice.of([-1])


def test_people_described_and_numbered(two):
    small, large = two.describe()
    # The soft disc reaches probability 0.5 six pixels past its radius of 20 around (50, 60).
    assert small.box == (24, 34, 77, 87) and small.area == int((two.masks[0] >= 0.5).sum())
    assert large.area > small.area and small.score == 0.9
    labels = two.index_mask()
    assert labels.dtype == np.uint8 and set(np.unique(labels)) == {0, 1, 2}
    assert labels[60, 50] == 1 and labels[60, 135] == 2 and labels[5, 5] == 0
    assert len(People.none(4, 5)) == 0 and People.none(4, 5).index_mask().shape == (4, 5)


def test_choosing_people(two):
    assert two.choose(PeopleChoice()) == (0, 1)
    assert two.choose(PeopleChoice(largest=True)) == (1,)
    assert two.choose(PeopleChoice(indices=(0,))) == (0,)
    assert two.choose(PeopleChoice(points=((50, 60),))) == (0,)
    assert two.choose(PeopleChoice(indices=(0,), points=((135.7, 60.2),))) == (0, 1)
    with pytest.raises(NoSuchPerson, match="no person 2"):
        two.choose(PeopleChoice(indices=(2,)))
    with pytest.raises(NoSuchPerson, match=r"no person at \(5, 5\)"):
        two.choose(PeopleChoice(points=((5, 5),)))
    for outside in ((200, 10), (-0.5, 10), (10, 120)):
        with pytest.raises(ValueError, match="outside the 200×120 image"):
            two.choose(PeopleChoice(points=(outside,)))
    assert People.none(4, 5).choose(PeopleChoice(largest=True)) == ()


def test_everyone_kept_is_the_trimap_of_the_probability(two):
    probability = two.probability
    assert np.array_equal(probability, two.masks.max(axis=0))
    kept_probability, trimap = trimap_of_people(two, (0, 1))
    assert kept_probability is probability
    assert np.array_equal(trimap, banded_trimap(probability, two.masks))
    small = scaled_band(DEFAULT_PARAMS, band_scale(two.masks[0]))
    assert small.erode_iterations < DEFAULT_PARAMS.erode_iterations, "these people are small"
    assert np.array_equal(trimap, trimap_for(probability, small))


def test_a_person_left_out_is_background_also_in_the_band_of_one_kept():
    shape = (100, 160)
    near = People.of(np.stack([disc(shape, 50, 50, 30), disc(shape, 105, 50, 30)]), (0.9, 0.9))
    _, alone = trimap_of_people(near, (0,))
    kept_only = banded_trimap(near.masks[0], near.masks[:1])
    theirs = (near.masks[1] > near.masks[0]) & (near.masks[1] >= DEFAULT_PARAMS.bg_threshold)
    band = (kept_only == UNKNOWN) & theirs
    assert band.any(), "the discs are close enough that the band reaches the other person"
    assert np.all(alone[band] == BACKGROUND)
    assert np.array_equal(alone[~band], kept_only[~band])
    body = (near.masks[1] >= 0.9) & (near.masks[0] < DEFAULT_PARAMS.bg_threshold)
    assert np.all(alone[body] == BACKGROUND), "the one left out is background"
    assert np.any(alone == FOREGROUND)


def test_selfie_people_split_the_map_without_overlap():
    shape = (80, 200)
    probability = np.maximum(disc(shape, 40, 40, 20), disc(shape, 150, 40, 25))
    probability[5:8, 100:103] = 0.7  # a speck: too small to be a person, given to the nearest
    regions, scores = person_regions(probability, 0.6)  # as SelfieSegmenter.segment splits
    masks = split_regions(probability, regions, len(scores))
    assert masks.shape == (2, *shape) and len(scores) == 2 and min(scores) >= 0.6
    assert np.array_equal(masks.max(axis=0), probability)
    assert not np.any((masks[0] > 0) & (masks[1] > 0))
    regions, scores = person_regions(probability, 1.01)
    assert split_regions(probability, regions, len(scores)).shape == (0, *shape)


def test_hints_replace_the_trimap_where_opaque():
    trimap = np.full((4, 6), UNKNOWN, np.uint8)
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[0, :2] = (255, 255, 255, 255)  # keep
    rgba[1, :2] = (0, 0, 0, 255)  # remove
    rgba[2, :2] = (128, 128, 128, 200)  # edge
    rgba[3, :2] = (255, 255, 255, 100)  # too faint to count
    photo = Photo(rgba[..., :3].copy(), rgba[..., 3].astype(np.float32) / 255)
    merged = merge_hint(np.full((4, 6), BACKGROUND, np.uint8), Hint.from_photo(photo))
    assert merged[:, :2].tolist() == [[255, 255], [0, 0], [128, 128], [0, 0]]
    assert np.all(merged[:, 2:] == BACKGROUND)
    everywhere = Hint.load(np.dstack([np.full((4, 6), 255, np.uint8)] * 3))
    assert np.all(merge_hint(trimap, everywhere) == FOREGROUND)
    with pytest.raises(ValueError, match="the hint is 6×4; the image is 7×4"):
        merge_hint(np.zeros((4, 7), np.uint8), everywhere)
