"""FBA Matting: build or load the network and matte one image with a trimap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from background_replacement.trimap import FOREGROUND, enforce_known

from .inputs import (
    crop_to,
    distance_channels,
    network_inputs,
    pad_to_multiple,
    two_channel_trimap,
)
from .network import (
    FLOAT32,
    REDUCED_PRECISION_STAGES,
    STAGES,
    FBANet,
    Precision,
    WSConv2d,
    fold_weight_standardisation,
)

__all__ = [
    "FLOAT32",
    "REDUCED_PRECISION_STAGES",
    "STAGES",
    "FBACheckpointError",
    "FBANet",
    "Precision",
    "WSConv2d",
    "build_fba",
    "crop_to",
    "distance_channels",
    "fold_weight_standardisation",
    "load_fba",
    "network_inputs",
    "pad_to_multiple",
    "predict_fba",
    "two_channel_trimap",
]


class FBACheckpointError(RuntimeError):
    """An FBA weights file is missing, unreadable, or does not fit the network."""


def build_fba() -> FBANet:
    """A randomly initialised FBA network (11 encoder input channels), in training mode."""
    return FBANet()


def load_fba(path: str | Path, device: str | torch.device = "cpu") -> FBANet:
    """Load ``FBA.pth`` strictly, fold weight standardisation, and return the model in eval mode.

    Args:
        path: the state dict file (keys ``encoder.*`` and ``decoder.*``).
        device: where to put the model.

    Raises:
        FBACheckpointError: the file is missing, is not a state dict, or its keys or shapes do
            not match the network; the message names the file and keeps the underlying error.
    """
    path = Path(path)
    if not path.is_file():
        raise FBACheckpointError(f"FBA weights file not found: {path}")
    try:
        # Mapped, not read: the tensors are assigned to the model below, never copied.
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise FBACheckpointError(f"cannot read FBA weights file {path}: {exc}") from exc
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise FBACheckpointError(
            f"FBA weights file {path} does not hold a state dict (name -> tensor), "
            f"got {type(state).__name__}"
        )
    with torch.device("meta"):  # no random initialisation: every tensor comes from the file
        model = FBANet()
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise FBACheckpointError(
            f"FBA weights file {path} does not fit the network: {exc}"
        ) from exc
    fold_weight_standardisation(model)
    return model.eval().to(device)


def predict_fba(
    model: FBANet,
    image_rgb_u8: np.ndarray,
    trimap_u8: np.ndarray,
    precision: Precision = FLOAT32,
) -> tuple[np.ndarray, np.ndarray]:
    """Matte one image.

    The inputs are padded to multiples of 8 (image by reflection, trimap with "unknown") and the
    outputs cropped back. Known regions of the trimap are enforced on the result.

    Args:
        model: an :class:`FBANet` (normally from :func:`load_fba`), already in eval mode.
        image_rgb_u8: ``(H, W, 3)`` uint8 RGB.
        trimap_u8: ``(H, W)`` uint8 trimap: 0 background, 255 foreground, other values unknown.
        precision: the network stages to run under autocast (e.g. bfloat16); the final
            F/B/alpha fusion always runs in float32. The default runs everything in float32.

    Returns:
        ``(alpha (H, W) float32 in [0, 1], foreground (H, W, 3) float32 RGB in [0, 1])``; alpha
        is 0 where the trimap is 0 and 1 where it is 255, where the foreground is the image.

    Raises:
        ValueError: if the image or trimap has the wrong dtype or shape.
    """
    height, width = trimap_u8.shape[:2] if isinstance(trimap_u8, np.ndarray) else (0, 0)
    inputs = network_inputs(image_rgb_u8, trimap_u8)
    device = next(model.parameters()).device
    # A model converted to channels-last (faster under bf16 on CPU) gets channels-last inputs.
    layout = (torch.channels_last
              if model.encoder.conv1.weight.is_contiguous(memory_format=torch.channels_last)
              else torch.contiguous_format)
    tensors = [torch.from_numpy(array).to(device).contiguous(memory_format=layout)
               for array in inputs]
    with torch.inference_mode():
        output = model(*tensors, precision=precision)
    output = output[0].float().cpu().numpy().transpose(1, 2, 0)
    output = crop_to(output, height, width)

    alpha = np.ascontiguousarray(output[..., 0], dtype=np.float32)
    foreground = np.ascontiguousarray(output[..., 1:4], dtype=np.float32)
    enforce_known(alpha, trimap_u8)
    known_fg = trimap_u8 == FOREGROUND
    foreground[known_fg] = image_rgb_u8[known_fg].astype(np.float32) / 255.0
    return alpha, foreground
