"""FBA Matting backend: the design's network, with weights from models/FBA.pth."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from matting_api.fba import FBACheckpointError, FBANet, load_fba, predict_fba
from matting_api.matters.base import (
    FOREGROUND,
    Matte,
    MatterUnavailable,
    check_inputs,
    matte_in_region,
    region,
)
from models import FBA

log = logging.getLogger(__name__)

# Context around the person that the network sees (its receptive field is far larger; this is
# what the region it mattes gets beyond the unknown and foreground pixels).
CONTEXT_MARGIN = 64


def find_fba_weights(configured: str = "") -> Path:
    """``configured`` if set, else models/FBA.pth; raises ``MatterUnavailable`` if missing."""
    path = Path(configured).expanduser() if configured else FBA.default_path
    if not path.is_file():
        raise MatterUnavailable(f"FBA weights not found at {path}. Download them with: "
                                f"{FBA.fetch_command} (non-commercial licence)")
    return path


class FBAMatter:
    """FBA Matting on the box around the person (unknown and foreground pixels plus context)."""

    name = "fba"

    def __init__(self, model: FBANet):
        self.model = model

    @classmethod
    def from_settings(cls, settings, device: torch.device) -> FBAMatter:
        path = find_fba_weights(settings.fba_weights)
        log.info("loading FBA weights from %s", path)
        try:
            return cls(load_fba(path, device))
        except FBACheckpointError as exc:
            raise MatterUnavailable(f"{exc}. Download the published file with: "
                                    f"{FBA.fetch_command}") from exc

    def _solve(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        alpha, foreground = predict_fba(self.model, image_rgb, trimap)
        return Matte(alpha, foreground)

    def matte(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        """Alpha and foreground colours; known background outside the box is never computed."""
        check_inputs(image_rgb, trimap)
        box = region(trimap != 0, CONTEXT_MARGIN)
        if box is not None and not np.any((trimap[box] != 0) & (trimap[box] != FOREGROUND)):
            box = None  # nothing unknown: the trimap is the matte
        return matte_in_region(image_rgb, trimap, box, self._solve)
