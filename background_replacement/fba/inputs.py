"""Numpy preprocessing for FBA Matting: trimap encodings, normalisation, padding, cropping.

Trimaps are uint8 ``H×W`` arrays: 0 known background, 255 known foreground, anything else
(normally 128) unknown.

Padding: the network needs sides that are multiples of 8. Images are padded at the bottom and
right by reflection; trimaps are padded with 128 (unknown), so that padding never invents known
regions and the distance channels inside the original area are exactly those of the unpadded
trimap. Outputs are cropped back with :func:`crop_to`; the picture is never resampled.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from background_replacement.trimap import BACKGROUND, FOREGROUND, UNKNOWN

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

# Gaussian widths of the distance channels: 0.02, 0.08 and 0.16 of L = 320 pixels.
DISTANCE_SIGMAS = (6.4, 25.6, 51.2)

MULTIPLE = 8


def _check_trimap(trimap_u8: np.ndarray) -> None:
    if not isinstance(trimap_u8, np.ndarray) or trimap_u8.dtype != np.uint8:
        raise ValueError(f"trimap must be a uint8 numpy array, got {_describe(trimap_u8)}")
    if trimap_u8.ndim != 2 or trimap_u8.size == 0:
        raise ValueError(f"trimap must be a non-empty H×W array, got shape {trimap_u8.shape}")


def _check_image(image_rgb_u8: np.ndarray) -> None:
    if not isinstance(image_rgb_u8, np.ndarray) or image_rgb_u8.dtype != np.uint8:
        raise ValueError(f"image must be a uint8 numpy array, got {_describe(image_rgb_u8)}")
    shape = image_rgb_u8.shape
    if image_rgb_u8.ndim != 3 or shape[2] != 3 or image_rgb_u8.size == 0:
        raise ValueError(f"image must be a non-empty H×W×3 RGB array, got shape {shape}")


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array"
    return type(value).__name__


def two_channel_trimap(trimap_u8: np.ndarray) -> np.ndarray:
    """Split a trimap into known-background and known-foreground masks.

    Args:
        trimap_u8: ``(H, W)`` uint8 trimap (0 background, 255 foreground, else unknown).

    Returns:
        ``(H, W, 2)`` float32: channel 0 is 1 where the trimap is 0, channel 1 is 1 where it
        is 255; both are 0 in unknown pixels.
    """
    _check_trimap(trimap_u8)
    two_chan = np.zeros((*trimap_u8.shape, 2), dtype=np.float32)
    two_chan[..., 0] = trimap_u8 == BACKGROUND
    two_chan[..., 1] = trimap_u8 == FOREGROUND
    return two_chan


def distance_channels(two_chan: np.ndarray) -> np.ndarray:
    """Gaussian-of-distance encoding of the known regions.

    For class ``k`` (background, then foreground) with distance ``d`` of each pixel to the
    nearest pixel of that class (exact Euclidean distance transform), the channels are
    ``exp(-d² / (2σ²))`` for σ in :data:`DISTANCE_SIGMAS`. A class with no pixel gives three
    zero channels.

    Args:
        two_chan: ``(H, W, 2)`` masks from :func:`two_channel_trimap` (nonzero = member).

    Returns:
        ``(H, W, 6)`` float32: background's three channels, then foreground's three.
    """
    if not isinstance(two_chan, np.ndarray) or two_chan.ndim != 3 or two_chan.shape[2] != 2:
        shape = two_chan.shape if isinstance(two_chan, np.ndarray) else _describe(two_chan)
        raise ValueError(f"two_chan must be an H×W×2 array, got {shape}")
    height, width = two_chan.shape[:2]
    out = np.zeros((height, width, 2 * len(DISTANCE_SIGMAS)), dtype=np.float32)
    for k in range(2):
        member = two_chan[..., k] != 0
        if not member.any():
            continue
        # distanceTransform measures from each nonzero pixel to the nearest zero pixel.
        outside = np.where(member, 0, 1).astype(np.uint8)
        distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        squared = distance.astype(np.float64) ** 2
        for i, sigma in enumerate(DISTANCE_SIGMAS):
            out[..., 3 * k + i] = np.exp(-squared / (2.0 * sigma**2))
    return out


def normalise_image(image01: np.ndarray) -> np.ndarray:
    """ImageNet normalisation: ``(H, W, 3)`` RGB in [0, 1] -> ``(H, W, 3)`` float32."""
    return ((image01 - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32)


def padded_size(height: int, width: int, multiple: int = MULTIPLE) -> tuple[int, int]:
    """Smallest ``(height, width)`` at least as large whose sides are multiples of ``multiple``."""
    if multiple < 1:
        raise ValueError(f"multiple must be at least 1, got {multiple}")
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def pad_to_multiple(
    array: np.ndarray,
    multiple: int = MULTIPLE,
    *,
    mode: str = "reflect",
    value: int | float = 0,
) -> np.ndarray:
    """Pad the first two axes at the bottom and right up to multiples of ``multiple``.

    Args:
        array: ``(H, W)`` or ``(H, W, C)`` array.
        multiple: the side lengths of the result are multiples of this.
        mode: ``"reflect"`` (mirror without repeating the edge) or ``"constant"`` (``value``).
        value: fill for ``mode="constant"``.

    Returns:
        ``(H', W'[, C])`` array of the same dtype, ``H' = ceil(H/multiple)*multiple``; the
        original occupies ``[:H, :W]``.
    """
    if not isinstance(array, np.ndarray) or array.ndim not in (2, 3):
        raise ValueError(f"expected an H×W or H×W×C array, got {_describe(array)}")
    if mode not in ("reflect", "constant"):
        raise ValueError(f"mode must be 'reflect' or 'constant', got {mode!r}")
    height, width = array.shape[:2]
    target_h, target_w = padded_size(height, width, multiple)
    widths = [(0, target_h - height), (0, target_w - width)] + [(0, 0)] * (array.ndim - 2)
    if target_h == height and target_w == width:
        return array
    if mode == "constant":
        return np.pad(array, widths, mode="constant", constant_values=value)
    return np.pad(array, widths, mode="reflect")


def crop_to(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Undo :func:`pad_to_multiple`: keep ``array[:height, :width]`` (first two axes)."""
    if array.shape[0] < height or array.shape[1] < width:
        raise ValueError(f"cannot crop an array of shape {array.shape} to {height}x{width}")
    return array[:height, :width]


def pad_image_and_trimap(
    image_rgb_u8: np.ndarray, trimap_u8: np.ndarray, multiple: int = MULTIPLE
) -> tuple[np.ndarray, np.ndarray]:
    """Pad an image by reflection and its trimap with "unknown" up to multiples of ``multiple``.

    Returns:
        ``(image (H', W', 3) uint8, trimap (H', W') uint8)``.
    """
    _check_image(image_rgb_u8)
    _check_trimap(trimap_u8)
    if image_rgb_u8.shape[:2] != trimap_u8.shape:
        raise ValueError(
            f"image is {image_rgb_u8.shape[:2]} but trimap is {trimap_u8.shape} (H, W)"
        )
    image = pad_to_multiple(image_rgb_u8, multiple, mode="reflect")
    trimap = pad_to_multiple(trimap_u8, multiple, mode="constant", value=UNKNOWN)
    return image, trimap


class FBAInputs(NamedTuple):
    """The four network inputs as ``(1, C, H', W')`` float32 arrays, in forward order."""

    image: np.ndarray  # (1, 3, H', W') RGB in [0, 1]
    two_chan_trimap: np.ndarray  # (1, 2, H', W')
    image_n: np.ndarray  # (1, 3, H', W') ImageNet-normalised
    trimap_transformed: np.ndarray  # (1, 6, H', W')


def _nchw(array_hwc: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array_hwc.transpose(2, 0, 1)[None], dtype=np.float32)


def network_inputs(
    image_rgb_u8: np.ndarray, trimap_u8: np.ndarray, multiple: int = MULTIPLE
) -> FBAInputs:
    """Build the network's inputs from an RGB image and a trimap, padded for the network.

    Args:
        image_rgb_u8: ``(H, W, 3)`` uint8 RGB.
        trimap_u8: ``(H, W)`` uint8 trimap.
        multiple: pad the sides up to multiples of this (8 for FBA; 1 disables padding).

    Returns:
        :class:`FBAInputs` of size ``H' × W'`` (see :func:`padded_size`); crop outputs back
        with :func:`crop_to`.
    """
    image_u8, trimap = pad_image_and_trimap(image_rgb_u8, trimap_u8, multiple)
    image01 = image_u8.astype(np.float32) / 255.0
    two_chan = two_channel_trimap(trimap)
    return FBAInputs(
        image=_nchw(image01),
        two_chan_trimap=_nchw(two_chan),
        image_n=_nchw(normalise_image(image01)),
        trimap_transformed=_nchw(distance_channels(two_chan)),
    )
