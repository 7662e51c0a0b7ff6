"""The pose segmenter (people anywhere in the photo): its pure parts on synthetic input, and the
real models from the mediapipe wheel on photos of people apart, touching and small."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from background_replacement.params import DEFAULT_PARAMS
from background_replacement.pipeline import banded_trimap, trimap_for
from background_replacement.segmenters.pose import (
    Body,
    distinct,
    fuse,
    merged,
    person_score,
    same_body,
    subjects,
    tiles,
)
from background_replacement.segmenters.pose_graphs import detection_from_keypoints
from background_replacement.trimap import FOREGROUND, UNKNOWN
from tests.conftest import TWO_PEOPLE, shared_data


def test_tiles_cover_the_photo_with_overlap():
    height, width = 720, 1280
    covered = np.zeros((height, width), np.int32)
    placed = tiles(height, width, 0.6)
    for x, y, side in placed:
        assert side == 432 and x + side <= width and y + side <= height
        covered[y:y + side, x:x + side] += 1
    assert covered.min() >= 1 and len(placed) == 8
    assert tiles(300, 400, 0.6) == [], "no tile below the detector's size"


def test_one_body_found_twice_is_kept_once_and_two_bodies_twice():
    one = detection_from_keypoints(0.9, (90, 80, 110, 100), (100.0, 200.0), (100.0, 100.0))
    again = detection_from_keypoints(0.8, (91, 81, 111, 101), (150.0, 400.0), (150.0, 50.0))
    other = detection_from_keypoints(0.7, (290, 80, 310, 100), (300.0, 200.0), (300.0, 100.0))
    hips = detection_from_keypoints(0.6, (10, 10, 20, 20), (105.0, 205.0), (105.0, 105.0))
    kept = distinct([again, other, hips, one])
    assert kept == [one, other], "the same face, or the same hips and reach: one person"
    assert abs(one.rotation) < 1e-6, "hips below the body point: upright"


def test_the_landmark_models_confidence_counts_only_with_its_head_in_the_body_found():
    # Hips at (100, 200), the body's circle 100 px around them.
    weak = detection_from_keypoints(0.5, (90, 80, 110, 100), (100.0, 200.0), (100.0, 100.0))
    landmarks = np.zeros((33, 3), np.float32)
    landmarks[:, 2] = 0.98
    landmarks[0, :2] = (104, 120)  # the nose inside the detected body
    assert person_score(weak, landmarks) == pytest.approx(0.98)
    landmarks[0, :2] = (230, 150)  # a head the detector did not see: its own score
    assert person_score(weak, landmarks) == pytest.approx(0.5)
    landmarks[0, :2] = (160, 130)  # off the face box, still in the body
    assert person_score(weak, landmarks) == pytest.approx(0.98)


def _body(x: float, width: int = 1000, height: int = 200, score: float = 0.9) -> Body:
    """A synthetic upright body around column ``x``: a mask spilling 40 px past it on each
    side (as the landmark model's masks do over a neighbour) and a vertical skeleton."""
    mask = np.zeros((height, width), np.float32)
    mask[20:180, max(0, int(x) - 60):int(x) + 60] = 1.0
    landmarks = np.zeros((33, 3), np.float32)
    landmarks[:, 0], landmarks[:, 1], landmarks[:, 2] = x, 100.0, 1.0
    for index, y in ((0, 30), (11, 50), (12, 50), (23, 120), (24, 120), (25, 150), (26, 150),
                     (27, 175), (28, 175)):
        landmarks[index, 1] = y
    landmarks[[11, 23, 25, 27], 0] -= 10
    landmarks[[12, 24, 26, 28], 0] += 10
    return Body(mask, landmarks, score)


def test_touching_bodies_are_split_along_their_skeletons():
    left, right = _body(70), _body(130)
    assert not same_body(left, right) and same_body(left, _body(72))
    probability, split = fuse([left, right], None)  # small people: no selfie share
    assert split.shape == (2, 200, 1000)
    assert np.array_equal(split.max(axis=0), probability)
    assert split[0][:, :95].min() == probability[:, :95].min()  # the left half is the left's
    assert split[0][:, 105:].max() == 0 and split[1][:, :95].max() == 0
    assert probability[100, 10] > 0.9 and probability[100, 189] > 0.9
    assert probability[100, 200:].max() == 0


def _standing(x: int, top: int, feet: int) -> Body:
    """A body whose mask spans rows ``top`` to ``feet`` at column ``x`` of a 1000×1000 photo."""
    mask = np.zeros((1000, 1000), np.float32)
    mask[top:feet + 1, x:x + 40] = 1.0
    return Body(mask, np.zeros((33, 3), np.float32), 0.9)


def test_people_behind_the_subjects_must_be_taller_to_count_than_those_beside_them():
    grown_up = _standing(100, 100, 899)  # 800 px, feet on row 899
    child = _standing(200, 460, 899)  # 440 px (0.55) beside them: the same ground line
    tiny = _standing(300, 600, 899)  # 300 px (0.375) beside them: too small in any place
    passer_by = _standing(400, 200, 639)  # 440 px, feet 260 px higher: further back
    near_line = _standing(500, 420, 859)  # 440 px, feet 40 px (5 %) higher: still beside
    tall_behind = _standing(600, 100, 599)  # 500 px (0.625), further back
    everyone = [grown_up, child, tiny, passer_by, near_line, tall_behind]
    kept = [next(i for i, one in enumerate(everyone) if one is body)
            for body in subjects(everyone)]
    assert kept == [0, 1, 4, 5], "the passer-by and the tiny one are the scene behind"
    assert subjects([]) == []


def test_small_people_get_a_narrower_band_and_large_ones_the_parameters_band():
    small = np.zeros((400, 400), np.float32)
    small[100:300, 180:220] = 1.0  # 200 px tall, 40 px wide
    small[100:300, 190:210] = 1.0
    narrow = banded_trimap(small, small[None], DEFAULT_PARAMS)
    wide = trimap_for(small, DEFAULT_PARAMS)
    assert np.count_nonzero(narrow == FOREGROUND) > np.count_nonzero(wide == FOREGROUND)
    assert np.count_nonzero(narrow == UNKNOWN) < np.count_nonzero(wide == UNKNOWN)
    tall = np.zeros((900, 400), np.float32)
    tall[20:880, 100:300] = 0.9
    assert np.array_equal(banded_trimap(tall, tall[None]), trimap_for(tall))


@pytest.fixture(scope="module")
def segmenter():
    from background_replacement.segmenters.pose import PoseSegmenter

    return PoseSegmenter()


def _portraits(size: tuple[int, int]) -> list[np.ndarray]:
    arrays = []
    for name in TWO_PEOPLE:
        with Image.open(shared_data("portraits-dev", "images", f"{name}.jpg")) as portrait:
            arrays.append(np.asarray(portrait.convert("RGB").resize(size, Image.LANCZOS)))
    return arrays


@pytest.mark.slow
def test_two_portraits_touching_are_two_people_each_on_their_side(segmenter):
    photo = np.concatenate(_portraits((300, 400)), axis=1)  # no gap between them
    found = segmenter.segment(photo, score_threshold=DEFAULT_PARAMS.score_threshold)
    assert len(found) == 2
    sides = sorted(np.mean(np.nonzero(mask >= 0.5)[1] < 300) for mask in found.masks)
    assert sides[0] < 0.1 and sides[1] > 0.8, sides


@pytest.mark.slow
def test_a_standing_person_far_from_the_camera_is_found(segmenter):
    path = shared_data("fullbody-dev", "images")
    image_path = sorted(path.glob("*.jpg"))[0]
    with Image.open(image_path) as image:
        person = np.asarray(image.convert("RGB").resize((184, 277)))
    photo = np.full((720, 1280, 3), 110, np.uint8)
    photo[400:677, 900:1084] = person  # 277 px of 720: too small for the detector alone
    found = segmenter.segment(photo, score_threshold=DEFAULT_PARAMS.score_threshold)
    assert len(found) >= 1
    inside = found.probability[400:677, 900:1084] >= 0.5
    assert inside.mean() > 0.15 and (found.probability >= 0.5)[:, :850].mean() < 0.01


def test_a_missing_or_changed_pose_model_names_the_install_command(tmp_path):
    from background_replacement.models import POSE_DETECTOR, POSE_LANDMARKS
    from background_replacement.segmenters.base import SegmenterUnavailable
    from background_replacement.segmenters.pose_graphs import _mediapipe_root, check_models

    check_models(_mediapipe_root())  # the installed wheel's files are the recorded ones
    with pytest.raises(SegmenterUnavailable, match=r"pip install mediapipe==0\.10\.21"):
        check_models(tmp_path)
    for model in (POSE_DETECTOR, POSE_LANDMARKS):
        path = tmp_path / model.package / model.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not the model")
    with pytest.raises(SegmenterUnavailable, match="not the recorded"):
        check_models(tmp_path)


def test_a_body_found_again_from_its_face_alone_keeps_the_whole_mask():
    whole = _body(300)
    face = Body(np.zeros_like(whole.mask), whole.landmarks + np.float32([4.0, 3.0, 0.0]), 0.99)
    face.mask[20:60, 280:320] = 1.0
    kept = merged(merged([], face), whole)
    assert len(kept) == 1 and kept[0].score == 0.99
    assert np.array_equal(kept[0].mask, whole.mask), "the face's crop does not shrink them"
    assert len(merged(kept, _body(450))) == 2
