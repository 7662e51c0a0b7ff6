"""The generated groups (bench/groups.py): one label per person, the labels cover exactly the
union mask, whoever is pasted later (nearer) hides those behind, and everyone stays in view."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench import groups
from tests.conftest import shared_data

SAMPLE = 3


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[list[groups.GroupPicture], object]:
    """The first ``SAMPLE`` pictures, made in memory and written to a folder; skips without
    ../shared/data."""
    shared_data("fullbody-dev")
    shared_data("davis-people")
    shared_data("videos", groups.VIDEO.name)
    folder = tmp_path_factory.mktemp("groups")
    groups.write_groups(folder, SAMPLE)
    sources = groups.source_list()
    return [groups.group_picture(index, sources) for index in range(SAMPLE)], folder


def test_labels_are_the_front_most_pasted_person(written):
    pictures, _ = written
    for picture in pictures:
        count = len(picture.layers)
        assert 2 <= count <= 8 and len(picture.people) == count
        # Label k+1 wherever person k is the last pasted of those covering the pixel.
        ranks = np.arange(1, count + 1)[:, None, None] * picture.layers
        assert np.array_equal(picture.labels, ranks.max(axis=0))
        # Pasted far to near: nobody's feet are above those of someone pasted before them.
        feet = [np.flatnonzero(layer.any(axis=1))[-1] for layer in picture.layers]
        assert feet == sorted(feet)


def test_instances_are_disjoint_and_cover_the_union_mask(written):
    pictures, folder = written
    for index, picture in enumerate(pictures):
        name = groups.picture_id(index)
        labels = groups.instances(folder, name)
        union = np.asarray(Image.open(folder / "masks" / f"{name}.png")) > 127
        assert np.array_equal(labels, picture.labels), "the same picture every time"
        masks = np.stack([labels == k for k in range(1, labels.max() + 1)])
        assert masks.sum(axis=0).max() == 1 or not masks.any()
        assert np.array_equal(masks.any(axis=0), union)
        rgb = np.asarray(Image.open(folder / "images" / f"{name}.jpg"))
        assert rgb.shape[:2] == labels.shape


def test_everyone_is_in_view_and_some_overlap(written):
    pictures, _ = written
    overlapping = 0
    for picture in pictures:
        own = picture.layers.reshape(len(picture.layers), -1).sum(axis=1)
        seen = np.bincount(picture.labels.ravel(), minlength=len(own) + 1)[1:]
        assert np.all(seen >= groups.MIN_VISIBLE * own) and np.all(seen > 0)
        overlapping += int((picture.layers.sum(axis=0) > 1).any())
    assert overlapping > 0, "people touch and overlap"
