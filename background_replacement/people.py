"""The people a segmenter found, one soft mask each, and which of them to keep.

A ``PeopleChoice`` is parsed from the text the services and the Python API take
(``people=all|largest|0,2``, ``points=x,y;x,y``) and resolved against the ``People`` of one
photo into the indices kept; ``people_json`` describes them as ``POST /people`` answers.
No HTTP here.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from background_replacement.images import encode_image

# A pixel belongs to a person where their mask probability reaches this (boxes, areas, the
# index mask and "the person under a point" all use it).
MASK_THRESHOLD = 0.5
PEOPLE_CHOICES = ("all", "largest")  # the words ``people`` takes besides a list of indices
MAX_POINTS = 64
_INDICES = re.compile(r"^\d{1,4}(,\d{1,4})*$")
_POINT = re.compile(r"^(-?\d{1,6}(?:\.\d+)?),(-?\d{1,6}(?:\.\d+)?)$")


def mask_rows(mask: np.ndarray) -> tuple[int, int] | None:
    """The first and last rows where a person's mask reaches ``MASK_THRESHOLD``; None for an
    empty mask."""
    rows = np.flatnonzero((mask >= MASK_THRESHOLD).any(axis=1))
    return (int(rows[0]), int(rows[-1])) if rows.size else None


def mask_height(mask: np.ndarray) -> int:
    """Rows from the top to the bottom of a person's mask (``mask_rows``); 0 for an empty
    mask."""
    rows = mask_rows(mask)
    return rows[1] - rows[0] + 1 if rows else 0


class NoSuchPerson(LookupError):
    """The choice names a person the photo does not have (an index past the last person, a
    point on nobody): well-formed, but not for this photo."""


@dataclass(frozen=True)
class PeopleChoice:
    """Which people to keep: every one (the default), the largest, those at ``indices``, or
    those under ``points`` ((x, y) pixels of the photo). Indices and points may come together:
    the people kept are then both sets."""

    largest: bool = False
    indices: tuple[int, ...] = ()
    points: tuple[tuple[float, float], ...] = ()

    @property
    def everyone(self) -> bool:
        return not (self.largest or self.indices or self.points)

    @classmethod
    def parse(cls, people: str | None = None, points: str | None = None) -> PeopleChoice:
        """From ``people`` (``all``, ``largest`` or comma-separated indices from 0) and
        ``points`` (``x,y`` pairs separated by ``;``); raises ``ValueError`` saying what is
        wrong."""
        text = (people or "").strip().lower().replace(" ", "")
        largest, indices = False, ()
        if text in ("", "all"):
            pass
        elif text == "largest":
            largest = True
        elif _INDICES.match(text):
            indices = tuple(sorted({int(part) for part in text.split(",")}))
        else:
            raise ValueError(f"'people' must be {', '.join(PEOPLE_CHOICES)} or indices such "
                             f"as 0,2; got {(people or '')[:40]!r}")
        return cls(largest, indices, parse_points(points))

    @classmethod
    def of(cls, people: str | Sequence[int] | PeopleChoice = "all",
           points: Sequence[tuple[float, float]] = ()) -> PeopleChoice:
        """The Python API's form: ``people`` as text (see ``parse``), indices or a choice;
        ``points`` as (x, y) pairs, added to it. Raises ``ValueError``."""
        if isinstance(people, PeopleChoice):
            choice = people
        elif isinstance(people, str):
            choice = cls.parse(people)
        else:
            indices = tuple(sorted({int(index) for index in people}))
            if any(index < 0 for index in indices):
                raise ValueError(f"person indices start at 0; got {indices}")
            choice = cls(indices=indices)
        extra = tuple((float(x), float(y)) for x, y in points)
        return cls(choice.largest, choice.indices, choice.points + extra) if extra else choice

    def to_form(self) -> dict[str, str]:
        """The choice as the form fields ``parse`` reads (empty for everyone)."""
        form = {}
        if self.largest or self.indices:
            form["people"] = "largest" if self.largest else ",".join(map(str, self.indices))
        if self.points:
            form["points"] = ";".join(f"{x!r},{y!r}" for x, y in self.points)
        return form


EVERYONE = PeopleChoice()


def parse_points(text: str | None) -> tuple[tuple[float, float], ...]:
    """``x,y;x,y`` → ((x, y), …); raises ``ValueError`` for anything else."""
    text = (text or "").strip().replace(" ", "")
    if not text:
        return ()
    parts = [part for part in text.split(";") if part]
    if len(parts) > MAX_POINTS:
        raise ValueError(f"'points' takes at most {MAX_POINTS} points; got {len(parts)}")
    points = []
    for part in parts:
        match = _POINT.match(part)
        if not match:
            raise ValueError(f"'points' must be x,y pairs separated by ';' such as "
                             f"120,80;300,95; got {part[:40]!r}")
        points.append((float(match.group(1)), float(match.group(2))))
    return tuple(points)


@dataclass(frozen=True)
class Person:
    """One person found: ``box`` (x0, y0, x1, y1, pixels, end exclusive) around where the mask
    reaches ``MASK_THRESHOLD``, the detector's ``score`` and the mask's ``area`` in pixels."""

    box: tuple[int, int, int, int]
    score: float
    area: int


@dataclass(frozen=True, eq=False)
class People:
    """The people a segmenter found in one photo: ``probability``, float32 H×W in [0, 1] at the
    photo's size (anyone's), and one ``score`` each. Their own masks are computed by ``split``
    when first needed (``masks``): keeping everyone needs none of them."""

    probability: np.ndarray = field(repr=False)
    scores: tuple[float, ...]
    split: Callable[[], np.ndarray] = field(repr=False)

    @classmethod
    def of(cls, masks: np.ndarray, scores: Sequence[float]) -> People:
        """People from their masks, float32 N×H×W, and scores; the probability is the masks'
        pixelwise maximum."""
        probability = (masks.max(axis=0) if len(masks)
                       else np.zeros(masks.shape[1:], np.float32))
        return cls(probability, tuple(scores), lambda: masks)

    @classmethod
    def none(cls, height: int, width: int) -> People:
        return cls.of(np.zeros((0, height, width), np.float32), ())

    @property
    def shape(self) -> tuple[int, int]:
        """The photo's height and width."""
        return self.probability.shape

    @functools.cached_property
    def masks(self) -> np.ndarray:
        """float32 N×H×W: each person's own probability, in [0, 1] (their pixelwise maximum is
        ``probability`` where anyone was found)."""
        return self.split()

    def __len__(self) -> int:
        return len(self.scores)

    def describe(self) -> list[Person]:
        """Box, score and area of each person, in index order."""
        described = []
        for mask, score in zip(self.masks, self.scores, strict=True):
            inside = mask >= MASK_THRESHOLD
            rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
            box = ((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
                   if rows.size else (0, 0, 0, 0))
            described.append(Person(box, round(float(score), 4), int(inside.sum())))
        return described

    def index_mask(self) -> np.ndarray:
        """uint8 H×W: 0 where nobody is, else 1 + the index of the most probable person."""
        if len(self) == 0:
            return np.zeros(self.shape, np.uint8)
        best = self.masks.argmax(axis=0)
        found = np.take_along_axis(self.masks, best[None], axis=0)[0] >= MASK_THRESHOLD
        return np.where(found, best + 1, 0).astype(np.uint8)

    def person_at(self, x: float, y: float) -> int:
        """The index of the person under pixel (x, y); ``ValueError`` off the photo,
        ``NoSuchPerson`` on nobody."""
        height, width = self.shape
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(f"the point ({x:g}, {y:g}) is outside the {width}×{height} image")
        column, row = int(x), int(y)
        if len(self):
            best = int(self.masks[:, row, column].argmax())
            if self.masks[best, row, column] >= MASK_THRESHOLD:
                return best
        raise NoSuchPerson(f"there is no person at ({x:g}, {y:g}); {len(self)} found")

    def choose(self, choice: PeopleChoice) -> tuple[int, ...]:
        """The indices ``choice`` keeps, ascending. Raises ``NoSuchPerson`` for an index past
        the last person or a point on nobody, ``ValueError`` for a point off the photo."""
        if choice.everyone:
            return tuple(range(len(self)))
        kept: set[int] = set()
        if choice.largest and len(self):
            kept.add(int(np.argmax([person.area for person in self.describe()])))
        for index in choice.indices:
            if index >= len(self):
                raise NoSuchPerson(f"there is no person {index}: {len(self)} found, "
                                   f"numbered from 0")
            kept.add(index)
        kept.update(self.person_at(x, y) for x, y in choice.points)
        return tuple(sorted(kept))


def people_json(people: People, segmenter: str) -> dict[str, Any]:
    """What ``POST /people`` answers: each person's box, score and area, and the index mask as
    a PNG data URL (one channel: 0 nobody, 1 + index where a person is)."""
    height, width = people.shape
    mask = base64.b64encode(encode_image(people.index_mask(), "png")).decode("ascii")
    return {"width": width, "height": height, "segmenter": segmenter,
            "people": [{"index": index, "box": list(person.box), "score": person.score,
                        "area": person.area}
                       for index, person in enumerate(people.describe())],
            "index_mask": f"data:image/png;base64,{mask}"}
