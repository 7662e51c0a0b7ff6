"""People anywhere in the photo: BlazePose finds each person (on the whole photo and on tiles of
it, so that small and far people are found too), its landmark model masks each one in a crop
around them, and MediaPipe's selfie segmentation refines the people who fill the frame.

All three models ship inside the mediapipe wheel. Each person found is one instance with their
own mask, also where people touch or overlap.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from background_replacement.people import MASK_THRESHOLD, People, mask_rows
from background_replacement.segmenters.pose_graphs import Box, Detection, PoseGraphs
from background_replacement.segmenters.selfie import SelfieSegmenter, nearest_region

# Tiles for the detector, which needs a person taller than about a third of its picture: each
# tile's side as a share of the photo's shorter side, and how much neighbours overlap.
TILE_FRACTIONS = (0.6,)
TILE_OVERLAP = 0.25
MIN_TILE_SIDE = 192  # no tiles smaller than this many pixels (the detector sees 224)
# Two detections are one person when their hips lie within this share of the smaller reach
# and their reaches differ by less than this factor.
SAME_PERSON_DISTANCE = 0.5
SAME_PERSON_REACH = 1.6
SAME_FACE = 0.5  # ... or when this much of the smaller face box lies in the other
# Two bodies are one person when their shoulders and hips, or their noses, are this close
# (``same_body``).
SAME_BODY = 0.3
SAME_HEAD = 0.6
MIN_PERSON_PIXELS = 64
# People shorter than this share of the tallest person are the scene behind the subjects (an
# audience, passers-by far away), not people the photo is of. On davis-people (78 frames, whose
# masks hold the dancer alone) 0.4 gave 0.872 mean IoU and 0.25 gave 0.846; on the generated
# groups 0.731 and 0.746.
SUBJECT_SHARE = 0.4
# People who stand further back than the tallest (their feet higher in the photo by more than
# BEHIND_GAP of the tallest's height) must be BEHIND_SHARE of the tallest's height to count: a
# seated audience or a passer-by behind the subject is, by perspective, both smaller and higher;
# a child beside a grown-up stands on the same line and stays down to SUBJECT_SHARE. Chosen on
# the probability's mean IoU over every 3rd davis-people frame (104): 0.8710 without, 0.8806 at
# 0.5, 0.8825 at 0.6 (gap 0.1 or 0.05 alike); confirmed on the frames after those (0.8695 →
# 0.8818), fullbody-dev every 6th (0.9338 → 0.9396; the next ones 0.9326 → 0.9362) and
# portraits (unchanged). The generated groups, which count smaller people placed further back as
# subjects, lose: every 2nd picture 0.6944 → 0.6752, own instance 46.7 → 42.3 %.
BEHIND_SHARE = 0.6
BEHIND_GAP = 0.1
# The selfie model's share of a person's probability grows with the share of the photo the
# person covers: none up to SELFIE_FROM, all from SELFIE_FROM + SELFIE_RAMP (close-up
# portraits, where the selfie model's edges are the finer ones). On 100 portraits-tune and 50
# fullbody-dev photos 0.25/0.3 gave 0.9644/0.9401 mean IoU, 0.15/0.25 0.9649/0.9419 (within
# noise), but blended the selfie model's one region over two touching portraits, where a
# person kept alone then lost 7 % of themselves (tests/test_people_touching.py).
SELFIE_FROM = 0.25
SELFIE_RAMP = 0.3
# The landmark model's masks are soft over the whole body; this contrast around 0.5 gives the
# trimap a foreground core (chosen on davis-people and fullbody-dev: +0.002 mean IoU each).
MASK_CONTRAST = 2.0


def tiles(height: int, width: int, fraction: float,
          overlap: float = TILE_OVERLAP) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side in pixels) covering a height×width picture, each ``fraction``
    of its shorter side, neighbours overlapping by ``overlap`` of a side; none when they would
    be smaller than ``MIN_TILE_SIDE``."""
    side = round(min(height, width) * fraction)
    if side < MIN_TILE_SIDE or side >= min(height, width):
        return []
    step = side * (1 - overlap)

    def starts(length: int) -> list[int]:
        count = math.ceil((length - side) / step) + 1
        return [round(v) for v in np.linspace(0, length - side, count)]

    return [(x, y, side) for y in starts(height) for x in starts(width)]


def box_overlap(a: Box, b: Box) -> float:
    """How much of the smaller of two boxes (x0, y0, x1, y1) lies in the other, 0 to 1."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / smaller if smaller > 0 else 0.0


def same_person(a: Detection, b: Detection) -> bool:
    """Whether two detections (of one photo, from the whole of it or from tiles) find the same
    body: the smaller face box lies in the other by more than ``SAME_FACE`` (a tile may see an
    eye and a mouth as a small face inside the whole face), or their hips lie close with a like
    reach."""
    if box_overlap(a.face, b.face) > SAME_FACE:
        return True
    small, large = sorted((a.reach, b.reach))
    distance = math.dist(a.hips, b.hips)
    return distance < SAME_PERSON_DISTANCE * small and large < SAME_PERSON_REACH * small


def distinct(detections: list[Detection]) -> list[Detection]:
    """The detections with each body once: the best-scored of each group of ``same_person``."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: -d.score):
        if not any(same_person(detection, other) for other in kept):
            kept.append(detection)
    return kept


# BlazePose's landmarks joined into a skeleton that splits people who touch: nose to shoulders,
# torso, legs. Not the arms: a wrist the model puts on a neighbour's chest would hand that
# chest to the wrong person (seen on two portraits side by side), and an arm is near its torso.
SKELETON = ((0, 11), (0, 12), (11, 12), (11, 23), (12, 24), (23, 24), (23, 25), (25, 27),
            (24, 26), (26, 28))
TORSO = (11, 12, 23, 24)  # shoulders and hips
HEAD_AND_SHOULDERS = (0, 11, 12)
NOSE, EARS = 0, (7, 8)


@dataclass(frozen=True)
class Body:
    """One person: the landmark model's ``mask`` (float32 H×W), ``landmarks`` (float32 33×3:
    x, y pixels, visibility) and the detector's ``score``."""

    mask: np.ndarray
    landmarks: np.ndarray
    score: float

    @property
    def torso(self) -> np.ndarray:
        """float32 4×2: the shoulders and hips, pixels."""
        return self.landmarks[list(TORSO), :2]

    @functools.cached_property
    def _rows(self) -> tuple[int, int] | None:
        return mask_rows(self.mask)  # read once: the size rules ask for both, body by body

    @property
    def height(self) -> int:
        """Rows from the top to the bottom of the mask (≥ ``MASK_THRESHOLD``)."""
        return self._rows[1] - self._rows[0] + 1 if self._rows else 0

    @property
    def feet(self) -> int:
        """The mask's lowest row (≥ ``MASK_THRESHOLD``); 0 for an empty mask."""
        return self._rows[1] if self._rows else 0


# Why the head must lie in the detected body (``person_score``): on the probability's mean IoU,
# davis-people (every 3rd frame, 104) 0.8710 with the check against 0.8657 without (the hikers'
# clouds: a weak detection the landmark model made a confident body), fullbody-dev (every 6th,
# 50) 0.9338 against 0.9332, portraits-dev (20), portraits-tune (every 10th) and the groups
# (every 2nd) unchanged; the nose in the detector's face box instead lost a close-up portrait
# whose tile detections found small faces inside the real one (portraits-dev 0.9466).
def head_in_reach(detection: Detection, landmarks: np.ndarray) -> bool:
    """Whether the landmark model's nose lies in the detector's body circle (its reach around
    the hips, which holds the whole body): both models see the same person."""
    return math.dist(landmarks[NOSE, :2], detection.hips) <= detection.reach


def person_score(detection: Detection, landmarks: np.ndarray) -> float:
    """A person's score: the detector's, or the landmark model's confidence that the head and
    shoulders are in view (the mean visibility of nose and shoulders) where that is higher and
    its head lies in the detected body (``head_in_reach``). The detector alone often scores a
    second face of a close-up group below 0.6; the landmark model, given a weak detection in
    clouds or rocks, draws a confident body whose head lies outside it."""
    seen = float(landmarks[list(HEAD_AND_SHOULDERS), 2].mean())
    return max(detection.score, seen) if head_in_reach(detection, landmarks) \
        else detection.score


def same_body(a: Body, b: Body) -> bool:
    """Whether two bodies are one person: their noses lie within ``SAME_HEAD`` of the larger
    head's width (ear to ear), or their shoulders and hips within ``SAME_BODY`` of the smaller
    torso's size. The head decides for close-ups, whose hips are out of frame and guessed
    differently from each crop; the torso for people seen from behind."""
    head = max(float(np.linalg.norm(body.landmarks[EARS[0], :2] - body.landmarks[EARS[1], :2]))
               for body in (a, b))
    if float(np.linalg.norm(a.landmarks[NOSE, :2] - b.landmarks[NOSE, :2])) < SAME_HEAD * head:
        return True
    size = min(float(np.ptp(body.torso, axis=0).max()) for body in (a, b))
    return float(np.linalg.norm(a.torso - b.torso, axis=1).mean()) < SAME_BODY * max(size, 1.0)


def merged(bodies: list[Body], body: Body) -> list[Body]:
    """``bodies`` with ``body`` added, or, where it is one of them found again, with that one's
    mask grown to both masks' maximum (a crop of the face alone gives a mask of the face)."""
    for index, other in enumerate(bodies):
        if same_body(body, other):
            grown = Body(np.maximum(other.mask, body.mask), other.landmarks, other.score)
            return [*bodies[:index], grown, *bodies[index + 1:]]
    return [*bodies, body]


def skeleton_labels(bodies: list[Body], shape: tuple[int, int]) -> np.ndarray:
    """int32 H×W: 1 + i along body i's skeleton, 0 elsewhere (later bodies drawn over)."""
    labels = np.zeros(shape, np.int32)
    for index, body in enumerate(bodies):
        points = np.round(body.landmarks[:, :2]).astype(np.int64)
        points = np.clip(points, -(1 << 20), 1 << 20)
        for start, end in SKELETON:
            cv2.line(labels, tuple(map(int, points[start])), tuple(map(int, points[end])),
                     index + 1, thickness=3)
    return labels


def contrasted(body: Body) -> np.ndarray:
    """A body's mask with ``MASK_CONTRAST`` around 0.5 (float32 H×W in [0, 1])."""
    return np.clip((body.mask - 0.5) * MASK_CONTRAST + 0.5, 0.0, 1.0)


def selfie_share(person: np.ndarray) -> float:
    """How much of a person's probability the selfie model gives: 0 for people covering up to
    ``SELFIE_FROM`` of the photo, rising to 1 at ``SELFIE_FROM + SELFIE_RAMP``."""
    covered = np.count_nonzero(person >= MASK_THRESHOLD) / person.size
    return float(np.clip((covered - SELFIE_FROM) / SELFIE_RAMP, 0.0, 1.0))


def fuse(bodies: list[Body], selfie: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The photo's person probability (float32 H×W) and each person's own map (float32 N×H×W)
    from the bodies found and the selfie model's probability (None: no body has a
    ``selfie_share``, so it is not needed).

    Each body's probability blends the selfie model's in by ``selfie_share``; the photo's is
    their pixelwise maximum. Every pixel belongs to the body whose skeleton is nearest, so that
    people who touch, whose masks overlap, stay apart.
    """
    blended = []
    for mask in map(contrasted, bodies):
        share = selfie_share(mask)
        if share and selfie is None:
            raise ValueError("a body covers enough of the photo to need the selfie model")
        blended.append(mask if not share else (1 - share) * mask + share * selfie)
    probability = np.clip(np.max(blended, axis=0), 0.0, 1.0).astype(np.float32)
    labels = skeleton_labels(bodies, probability.shape)
    owner = nearest_region(labels) if labels.any() else np.ones(labels.shape, np.int32)
    split = np.stack([np.where(owner == index + 1, probability, 0.0)
                      for index in range(len(bodies))]).astype(np.float32)
    return probability, split


def subjects(bodies: list[Body]) -> list[Body]:
    """The bodies the photo is of: none shorter than ``SUBJECT_SHARE`` of the tallest, and none
    standing further back (``BEHIND_GAP``) shorter than ``BEHIND_SHARE`` of it."""
    if not bodies:
        return bodies
    tallest = max(bodies, key=lambda body: body.height)

    def counts(body: Body) -> bool:
        behind = tallest.feet - body.feet > BEHIND_GAP * tallest.height
        share = BEHIND_SHARE if behind else SUBJECT_SHARE
        return body.height >= share * tallest.height

    return [body for body in bodies if counts(body)]


class PoseSegmenter:
    """BlazePose detection on the photo and its tiles, one landmark-model mask per person,
    blended with the selfie segmentation for people who fill the frame. No per-request state;
    each MediaPipe graph is used under its lock."""

    name = "pose"  # its key in background_replacement.backends

    def __init__(self, tile_fractions: tuple[float, ...] = TILE_FRACTIONS) -> None:
        self._graphs = PoseGraphs()
        self._selfie = SelfieSegmenter()
        self._tile_fractions = tile_fractions

    @classmethod
    def from_settings(cls, settings) -> PoseSegmenter:
        """The models inside the mediapipe wheel; MediaPipe chooses its own CPU threads."""
        return cls()

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Every body found on the whole photo or on one of its tiles, each once."""
        found = self._graphs.detect(image_rgb)
        height, width = image_rgb.shape[:2]
        for fraction in self._tile_fractions:
            for x, y, side in tiles(height, width, fraction):
                tile = image_rgb[y:y + side, x:x + side]
                found += [d.moved(x, y) for d in self._graphs.detect(tile)]
        return distinct(found)

    def bodies(self, image_rgb: np.ndarray, score_threshold: float) -> list[Body]:
        """The people the photo is of, best-scored first, each once: every body found except
        the scene behind the subjects (``subjects``)."""
        bodies: list[Body] = []
        for detection in self.detect(image_rgb):
            found = self._graphs.person(image_rgb, detection)
            if found is None or np.count_nonzero(found[0] >= MASK_THRESHOLD) < MIN_PERSON_PIXELS:
                continue
            body = Body(found[0], found[1], person_score(detection, found[1]))
            if body.score >= score_threshold:
                bodies = merged(bodies, body)
        return subjects(bodies)

    def segment(self, image_rgb: np.ndarray, *, score_threshold: float) -> People:
        """Person probability (float32 H×W) and one mask per person found; the selfie model's
        answer alone when the detector finds nobody. The selfie model runs only where someone
        found covers enough of the photo to take its share."""
        bodies = self.bodies(image_rgb, score_threshold)
        if not bodies:
            return self._selfie.segment(image_rgb, score_threshold=score_threshold)
        selfie = (self._selfie.segment(image_rgb, score_threshold=score_threshold).probability
                  if any(selfie_share(contrasted(body)) for body in bodies) else None)
        probability, split = fuse(bodies, selfie)
        return People(probability, tuple(b.score for b in bodies), lambda: split)
