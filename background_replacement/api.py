"""The Python API: the whole pipeline in this process, no service needed.

    from background_replacement import BackgroundReplacer
    replacer = BackgroundReplacer()             # loads the models once (SEGMENTER, MATTER, …)
    pil = replacer.replace("photo.jpg", background="#2040ff")     # answers in kind
    rgba = replacer.replace(frame_rgb, output="cutout")          # an array for an array
    rgb = replacer.replace_array("photo.jpg")                      # always an array

or, for one call, ``background_replacement.replace(image, ...)``. It runs the same functions as
the services: only the trimap comes from the segmenter here rather than over HTTP.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from background_replacement.background import Background, Picture, load_library, parse_background
from background_replacement.hints import Hint
from background_replacement.images import Answer, ImageSource, answer_in_kind, load_photo
from background_replacement.matters import Matter, load_matter
from background_replacement.params import DEFAULT_PARAMS, NO_EFFECTS, Effects, TrimapParams
from background_replacement.people import PeopleChoice, people_json
from background_replacement.pipeline import (
    NO_PERSON_CHOICES,
    OUTPUTS,
    find_people,
    matte_and_render,
    segment_to_trimap,
    warm_up,
    with_hint,
)
from background_replacement.segmenters import PersonSegmenter, load_segmenter
from background_replacement.settings import Settings

BackgroundChoice = str | Path | bytes | Image.Image | np.ndarray | Background | None
PeopleSelection = str | Sequence[int] | PeopleChoice


class BackgroundReplacer:
    """Owns a segmenter, a matter and the named backgrounds, loaded once; keeps no per-call
    state, so one replacer may serve several threads.

    ``settings`` is a ``Settings`` or a mapping of its fields (``{"matter": "closed-form"}``);
    what it leaves out comes from the environment variables the services read, then the
    defaults. ``segmenter`` and ``matter`` replace the ones the settings would load.
    """

    def __init__(self, settings: Settings | Mapping[str, Any] | None = None, *,
                 segmenter: PersonSegmenter | None = None, matter: Matter | None = None) -> None:
        self.settings = settings if isinstance(settings, Settings) else Settings.load(settings)
        self.segmenter = segmenter or load_segmenter(self.settings)
        self.matter = matter or load_matter(self.settings)
        self.backgrounds = load_library(Path(self.settings.backgrounds_dir))
        warm_up(self.segmenter, self.matter)

    def background(self, choice: BackgroundChoice) -> Background:
        """The ``Background`` for a ``replace`` call's ``background``: the grammar's text (names,
        colours, ``blur``, ``transparent``, the path of a picture), a ``Path``, a picture (encoded
        bytes, a Pillow image, an RGB array) or a ``Background`` as it is."""
        if choice is None or isinstance(choice, str):
            return parse_background(choice, self.backgrounds, files=True)
        if isinstance(choice, Path):
            return parse_background(str(choice), self.backgrounds, files=True)
        if isinstance(choice, bytes | Image.Image | np.ndarray):
            return Picture(load_photo(choice).rgb, "picture")
        if hasattr(choice, "behind") and hasattr(choice, "transparent"):
            return choice
        raise TypeError(f"cannot use a {type(choice).__name__} as a background")

    def replace(self, image: ImageSource, *, background: BackgroundChoice = None,
                output: str = "composite", if_no_person: str = "error",
                params: TrimapParams = DEFAULT_PARAMS, people: PeopleSelection = "all",
                points: Sequence[tuple[float, float]] = (),
                hint: ImageSource | Hint | None = None,
                effects: Effects = NO_EFFECTS,
                save_as: str | Path | None = None) -> Answer:
        """``replace_array``'s result in the kind of ``image``: an array for an array, a Pillow
        image for a Pillow image or a path, encoded bytes for bytes (the same format, PNG where
        an alpha channel needs it or the format cannot be written). With ``save_as``, the
        result is written to that file (format from its suffix: .png, .jpg, .webp) and its
        ``Path`` answered. The other arguments are ``replace_array``'s."""
        pixels = self.replace_array(image, background=background, output=output,
                                    if_no_person=if_no_person, params=params, people=people,
                                    points=points, hint=hint, effects=effects)
        return answer_in_kind(image, pixels, save_as)

    def replace_array(self, image: ImageSource, *, background: BackgroundChoice = None,
                      output: str = "composite", if_no_person: str = "error",
                      params: TrimapParams = DEFAULT_PARAMS, people: PeopleSelection = "all",
                      points: Sequence[tuple[float, float]] = (),
                      hint: ImageSource | Hint | None = None,
                      effects: Effects = NO_EFFECTS) -> np.ndarray:
        """The people of ``image`` (a path, encoded bytes, a Pillow image or an RGB uint8
        H×W×3 array) over ``background`` (default: the ``green`` named background).

        Returns uint8 pixels at the image's size, whatever the input's type: H×W×3 RGB for a
        composite or the foreground colours, H×W×4 RGBA for a cutout or a composite over
        ``transparent``, H×W for ``alpha`` or ``trimap``. ``if_no_person``: ``error`` raises
        ``NoPersonFound``, ``original`` answers the image unchanged, ``empty`` the background
        alone. Raises ``ValueError`` for a choice it does not know.

        ``people``: ``"all"`` (default), ``"largest"`` or indices (0 first, as the segmenter
        numbers them); ``points``: (x, y) pixels, each keeping the person under it (added to
        ``people`` when that is not ``"all"``). The people left out are background. Raises
        ``NoSuchPerson`` for an index or point where nobody is. ``hint``: an image the photo's
        size merged into the trimap (see ``background_replacement.hints``). ``effects``:
        ``Effects(harmonise=0.5, light_wrap=0.5, shadow=0.6)`` and so on, as ``/matte``'s fields
        of the same names (a composite over a background with pixels only; out of range:
        ``ValueError``).
        """
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}; got {output!r}")
        if if_no_person not in NO_PERSON_CHOICES:
            raise ValueError(f"if_no_person must be one of {', '.join(NO_PERSON_CHOICES)}; "
                             f"got {if_no_person!r}")
        params.validate()
        effects.validate()
        choice = PeopleChoice.of(people, points)
        chosen = self.background(background)
        photo = load_photo(image)
        segmented = segment_to_trimap(self.segmenter, photo.rgb, params, choice=choice)
        trimap, people_count = segmented.trimap, segmented.people_count
        hinted = None if hint is None else Hint.load(hint)
        if hinted is not None:
            trimap, people_count = with_hint(trimap, people_count, hinted)
        return matte_and_render(self.matter, photo, trimap, people_count, background=chosen,
                                output=output, if_no_person=if_no_person, hint=hinted,
                                effects=effects).pixels

    def people(self, image: ImageSource, params: TrimapParams = DEFAULT_PARAMS) -> dict[str, Any]:
        """The people of ``image``, one by one, as ``POST /people`` answers them: ``width``,
        ``height``, ``segmenter``, ``people`` (each ``index``, which ``people=`` takes, its
        ``box`` x0, y0, x1, y1, ``score`` and ``area``) and ``index_mask``, a PNG data URL (0
        nobody, 1 + index where a person is). Only ``params.score_threshold`` matters here."""
        found = find_people(self.segmenter, load_photo(image).rgb, params.validate())
        return people_json(found, self.segmenter.name)


@functools.cache
def default_replacer() -> BackgroundReplacer:
    """The replacer ``replace`` uses: built on the first call, with the settings from the
    environment, and kept for the process's later calls."""
    return BackgroundReplacer()


def replace(image: ImageSource, *, background: BackgroundChoice = None,
            output: str = "composite", if_no_person: str = "error",
            params: TrimapParams = DEFAULT_PARAMS, people: PeopleSelection = "all",
            points: Sequence[tuple[float, float]] = (),
            hint: ImageSource | Hint | None = None, effects: Effects = NO_EFFECTS,
            save_as: str | Path | None = None) -> Answer:
    """One-off ``BackgroundReplacer.replace`` (see there: it answers in the kind of ``image``);
    the models load on the first call."""
    return default_replacer().replace(image, background=background, output=output,
                                      if_no_person=if_no_person, params=params, people=people,
                                      points=points, hint=hint, effects=effects, save_as=save_as)
