"""The bench's scores (bench/data.py): person pixels found, and people found as their own
instance."""

from __future__ import annotations

import numpy as np
from PIL import Image

from bench.data import alpha_scores, instance_scores, portraits, summary


def two_people() -> np.ndarray:
    """Labels of two people side by side, touching (no gap between them)."""
    labels = np.zeros((40, 60), np.uint16)
    labels[5:35, 10:30] = 1
    labels[5:35, 30:54] = 2
    return labels


def test_one_region_for_two_touching_people_finds_at_most_the_larger():
    # 720 of the 1320 pixels are person 2's: IoU 0.55 with them, 0.45 with person 1.
    assert instance_scores((two_people() > 0).astype(np.uint8), two_people()) == {
        "people": 2, "matched": 1, "unmatched_found": 0}


def test_each_person_found_apart_is_matched_and_extras_are_counted():
    found = two_people().astype(np.uint8)
    found[0:3, 0:3] = 3
    found[5:35, 26:30] = 2  # a little of person 1 taken by person 2: still IoU ≥ 0.5
    assert instance_scores(found, two_people()) == {"people": 2, "matched": 2,
                                                    "unmatched_found": 1}
    assert instance_scores(np.zeros((40, 60), np.uint8), two_people())["matched"] == 0


def test_person_pixels_found_is_the_recall_of_the_mask():
    truth = two_people() > 0
    alpha = np.zeros(truth.shape, np.float32)
    alpha[5:35, 10:30] = 1.0
    alpha[0:5, 10:30] = 1.0  # outside the person: lowers IoU, not the pixels found
    assert alpha_scores(alpha, truth)["found"] == 20 / 44
    assert summary([alpha_scores(alpha, truth)])["person_found"] == 20 / 44


def test_photos_in_subfolders_are_named_by_their_path(tmp_path):
    for place in ("", "seq/"):
        (tmp_path / place / "images").mkdir(parents=True)
        (tmp_path / place / "masks").mkdir(parents=True)
        Image.new("RGB", (4, 4)).save(tmp_path / place / "images" / "00001.jpg")
        Image.new("L", (4, 4), 255).save(tmp_path / place / "masks" / "00001.png")
    assert [name for name, _, mask in portraits(tmp_path) if mask.all()] == ["00001",
                                                                            "seq/00001"]
