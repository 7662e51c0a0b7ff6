"""The matting service's answers made in this process, for ``remove-background --local``: the
core's ``BackgroundReplacer`` behind the same calls as ``MattingClient``, so the command's
options, folders, ``--watch`` and ``--jobs`` work unchanged without any service.

``--jobs`` then means threads sharing one replacer: it keeps no per-call state, so the models
load once and are held in memory once, and the heavy stages (MediaPipe, OpenCV, the sparse
solve, NumPy) run outside the GIL. Processes would load and hold the models once each.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

from PIL import UnidentifiedImageError

from background_replacement.api import BackgroundReplacer
from background_replacement.background import load_library
from background_replacement.client.matting_client import MattingError
from background_replacement.images import encode_image
from background_replacement.matters.base import MatterUnavailable
from background_replacement.params import (
    Effects,
    TrimapParams,
    effects_from,
    trimap_params_from,
)
from background_replacement.people import NoSuchPerson, PeopleChoice
from background_replacement.pipeline import NoPersonFound
from background_replacement.segmenters.base import SegmenterUnavailable
from background_replacement.settings import Settings


def trimap_params(fields: Mapping[str, str]) -> TrimapParams:
    """The trimap parameters among ``/matte``'s form fields (as the command sends them), the
    defaults for the others; ``MattingError`` for a value out of range."""
    try:
        return trimap_params_from(fields)
    except ValueError as exc:
        raise MattingError(str(exc)) from None


def effects(fields: Mapping[str, str]) -> Effects:
    """The composite's effects among ``/matte``'s form fields, the defaults for the others;
    ``MattingError`` for a value out of range."""
    try:
        return effects_from(fields)
    except ValueError as exc:
        raise MattingError(str(exc)) from None


class LocalService:
    """``MattingClient``'s ``matte``, ``max_in_flight`` and ``background_names``, answered by
    the core in this process with the settings the services read (``SEGMENTER``, ``MATTER``,
    …). The models load on the first photo, once, whichever thread asks first."""

    def __init__(self, settings: Settings | None = None,
                 stop: threading.Event | None = None) -> None:
        self.settings = settings or Settings.load()
        self.stop = stop or threading.Event()
        self._replacer: BackgroundReplacer | None = None
        self._lock = threading.Lock()

    def load(self) -> BackgroundReplacer:
        """The replacer, its models loaded now if they are not yet; ``MattingError`` when a
        backend the settings name cannot load."""
        with self._lock:
            if self._replacer is None:
                try:
                    self._replacer = BackgroundReplacer(self.settings)
                except (SegmenterUnavailable, MatterUnavailable) as exc:
                    raise MattingError(str(exc)) from None
            return self._replacer

    def max_in_flight(self) -> int:
        """One photo at a time per core this process may use."""
        return len(os.sched_getaffinity(0))

    def background_names(self) -> list[str]:
        """The named backgrounds the core draws (those the service would list)."""
        return list(load_library(Path(self.settings.backgrounds_dir)))

    def matte(self, image: bytes, *, background: str | bytes = "green",
              output: str = "composite", fmt: str = "png", hint: bytes | None = None,
              **fields: str) -> bytes:
        """The encoded result ``/matte`` would answer for these fields; ``MattingError`` with
        the reason when the photo cannot be done."""
        params = trimap_params(fields)
        try:
            choice = PeopleChoice.parse(fields.get("people"), fields.get("points"))
            pixels = self.load().replace_array(
                image, background=background, output=output, params=params,
                if_no_person=fields.get("if_no_person", "error"), people=choice, hint=hint,
                effects=effects(fields))
            return encode_image(pixels, fmt)
        except (NoPersonFound, NoSuchPerson) as exc:
            raise MattingError(str(exc)) from None
        except UnidentifiedImageError:
            raise MattingError("it is not an image this command can read") from None
        except (ValueError, OSError) as exc:
            raise MattingError(str(exc)) from None
