"""FBA Matting backend: the design's network, with weights from models/FBA.pth."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from background_replacement.backends import FBA_MAX_PIXELS
from background_replacement.device import select_autocast, select_device
from background_replacement.fba import (
    FLOAT32,
    REDUCED_PRECISION_STAGES,
    STAGES,
    FBACheckpointError,
    FBANet,
    Precision,
    load_fba,
    predict_fba,
)
from background_replacement.matters.base import (
    Matte,
    MatterUnavailable,
    check_inputs,
    matte_in_region,
    region,
)
from background_replacement.models import FBA
from background_replacement.scaling import matte_at_scale, solve_scale
from background_replacement.trimap import BACKGROUND, unknown_mask

log = logging.getLogger(__name__)

# Context around the person that the network sees (its receptive field is far larger; this is
# what the region it mattes gets beyond the unknown and foreground pixels).
CONTEXT_MARGIN = 64


Box = tuple[slice, slice]


def fba_region(trimap: np.ndarray) -> Box | None:
    """The box FBA mattes for ``trimap``: its unknown and foreground pixels plus
    ``CONTEXT_MARGIN``; None when nothing is unknown there (the trimap is the matte)."""
    box = region(trimap != BACKGROUND, CONTEXT_MARGIN)
    if box is not None and not np.any(unknown_mask(trimap[box])):
        return None
    return box


def fba_solve_plan(trimap: np.ndarray, max_pixels: int) -> tuple[Box | None, float]:
    """What ``FBAMatter.matte`` solves for ``trimap``: its box (``fba_region``) and the scale
    the network runs at there (``solve_scale``; 1: full size). For benches and tools that must
    give the network what the service gives it."""
    box = fba_region(trimap)
    return box, solve_scale(trimap[box].size if box is not None else 0, max_pixels)


def fba_precision(setting: str, device: torch.device) -> Precision:
    """FBA's precision for a ``PRECISION`` setting: ``auto`` runs the stages where reduced
    precision kept alpha within 1/255 of float32 (REDUCED_PRECISION_STAGES) in this device's
    fast reduced dtype, if it has one; ``bfloat16``/``float16`` run every stage in it."""
    dtype = select_autocast(setting, device)
    if dtype is None:
        return FLOAT32
    return Precision(dtype, REDUCED_PRECISION_STAGES if setting == "auto" else frozenset(STAGES))


def find_fba_weights(configured: str = "") -> Path:
    """``configured`` if set, else models/FBA.pth; raises ``MatterUnavailable`` if missing."""
    path = Path(configured).expanduser() if configured else FBA.default_path
    if not path.is_file():
        raise MatterUnavailable(f"FBA weights not found at {path}. Download them with: "
                                f"{FBA.fetch_command} (non-commercial licence)")
    return path


class FBAMatter:
    """FBA Matting on the box around the person (unknown and foreground pixels plus context).

    When the box has more than ``max_pixels`` pixels (0: no limit), the network runs on it at
    reduced size and alpha comes back to full size with ``scaling.upsample``: on a CPU this
    bounds the time of large photos, at some cost in the finest hair.
    """

    name = "fba"  # its key in background_replacement.backends

    def __init__(self, model: FBANet, precision: Precision = FLOAT32,
                 max_pixels: int = FBA_MAX_PIXELS):
        self.precision = precision
        self.max_pixels = max_pixels
        if precision.dtype is not None and next(model.parameters()).device.type == "cpu":
            model = model.to(memory_format=torch.channels_last)  # oneDNN's fast bf16 layout
        self.model = model

    @classmethod
    def from_settings(cls, settings) -> FBAMatter:
        device = select_device(settings.device)
        path = find_fba_weights(settings.fba_weights)
        log.info("loading FBA weights from %s", path)
        try:
            model = load_fba(path, device)
            return cls(model, fba_precision(settings.precision, device),
                       max_pixels=settings.fba_max_pixels)
        except FBACheckpointError as exc:
            raise MatterUnavailable(f"{exc}. Download the published file with: "
                                    f"{FBA.fetch_command}") from exc

    def _predict(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        return Matte(*predict_fba(self.model, image_rgb, trimap, precision=self.precision))

    def _solve(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        return matte_at_scale(image_rgb, trimap, solve_scale(trimap.size, self.max_pixels),
                              self._predict)

    def matte(self, image_rgb: np.ndarray, trimap: np.ndarray,
              free: np.ndarray | None = None) -> Matte:
        """Alpha and foreground colours; known background outside the box is never computed.
        ``free`` changes nothing: FBA's alpha is not refined after the network."""
        check_inputs(image_rgb, trimap)
        return matte_in_region(image_rgb, trimap, fba_region(trimap), self._solve)
