"""Would FBA cost fewer FLOPs on tiles covering only the trimap's unknown band?

On the benchmark photo (bench.pipeline's, 1280×720 by default) and its embedded trimap, at the
size the matting service runs FBA (the box around the people shrunk to FBA_MAX_PIXELS), the
box is cut into T×T cells; every cell holding an unknown pixel runs the network on itself plus
M pixels of context on each side. Prints, for each (T, M), the pixels the network would see
beside the box's (FLOPs scale with them), and for the given ``--run`` pairs how far alpha on the
unknown pixels is from the box's own run (random weights, float32; both in 8-bit levels).

    .venv/bin/python -m bench.fba_tiles [--size 1280x720] [--run 96x16,192x32]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from background_replacement.fba import build_fba, network_inputs
from background_replacement.matters.fba_matter import fba_solve_plan
from background_replacement.scaling import scaled_size, shrink
from background_replacement.settings import Settings
from background_replacement.trimap import unknown_mask
from bench.pipeline import photo

TILES = (32, 48, 64, 96, 128, 192)
MARGINS = (16, 32, 64)


def solve_inputs(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The image and trimap FBA runs on for the benchmark photo (see the module docstring)."""
    from background_replacement.pipeline import segment_to_trimap
    from background_replacement.segmenters.selfie import SelfieSegmenter

    _, rgb = photo(width, height)
    trimap = segment_to_trimap(SelfieSegmenter(), rgb).trimap
    box, scale = fba_solve_plan(trimap, Settings.load().fba_max_pixels)
    size = scaled_size(trimap[box].shape, scale)
    return shrink(rgb[box], size), shrink(trimap[box], size, labels=True)


def tiles(unknown: np.ndarray, tile: int, margin: int) -> list[tuple[slice, slice, slice, slice]]:
    """(rows, cols) of each cell holding an unknown pixel, and of the cell with its context."""
    height, width = unknown.shape
    found = []
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            cell = (slice(top, min(height, top + tile)), slice(left, min(width, left + tile)))
            if unknown[cell].any():
                found.append((*cell, slice(max(0, top - margin), min(height, top + tile + margin)),
                              slice(max(0, left - margin), min(width, left + tile + margin))))
    return found


def alpha_of(model, inputs) -> np.ndarray:
    with torch.inference_mode():
        return model(*[torch.from_numpy(np.ascontiguousarray(a)) for a in inputs])[0, 0].numpy()


def tiled_alpha(model, inputs, unknown: np.ndarray, tile: int, margin: int) -> np.ndarray:
    """Alpha from the network run tile by tile (on the inputs made once for the whole box);
    cells with no unknown pixel stay 0."""
    alpha = np.zeros(unknown.shape, np.float32)
    for rows, cols, outer_rows, outer_cols in tiles(unknown, tile, margin):
        crop = [a[:, :, outer_rows, outer_cols] for a in inputs]
        inner = (slice(rows.start - outer_rows.start, rows.stop - outer_rows.start),
                 slice(cols.start - outer_cols.start, cols.stop - outer_cols.start))
        alpha[rows, cols] = alpha_of(model, crop)[inner]
    return alpha


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--run", default="96x16,192x32",
                        help="TILExMARGIN pairs to run and compare with the box (multiples of 8)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    image, trimap = solve_inputs(width, height)
    # FBA pads to multiples of 8; the tiles are cut from the padded inputs.
    inputs = network_inputs(image, trimap)
    padded = inputs.image.shape[2:]
    unknown = np.zeros(padded, bool)
    unknown[:trimap.shape[0], :trimap.shape[1]] = unknown_mask(trimap)
    box_pixels = padded[0] * padded[1]
    print(f"{args.size}: FBA runs on {padded[1]}×{padded[0]} = {box_pixels} pixels, "
          f"{unknown.sum()} of them unknown")
    print("pixels the tiles' network runs see, beside the box's (T: cell side, M: context)")
    print("    T " + " ".join(f"M={m:<5}" for m in MARGINS))
    for tile in TILES:
        costs = [sum((r.stop - r.start) * (c.stop - c.start)
                     for *_, r, c in tiles(unknown, tile, margin)) / box_pixels
                 for margin in MARGINS]
        print(f"{tile:5d} " + " ".join(f"{cost:7.2f}" for cost in costs))
    torch.manual_seed(0)
    model = build_fba().eval()
    whole = alpha_of(model, inputs)
    saturated = np.mean((whole[unknown] <= 0.0) | (whole[unknown] >= 1.0))
    print(f"random weights: {saturated:.1%} of the box's unknown alpha is 0 or 1")
    for pair in args.run.split(","):
        tile, margin = (int(v) for v in pair.split("x"))
        difference = np.abs(tiled_alpha(model, inputs, unknown, tile, margin) - whole)[unknown]
        print(f"T={tile} M={margin}: alpha on unknown pixels vs the box: max "
              f"{difference.max() * 255:.1f} levels, {np.mean(difference > 1 / 255):.1%} over "
              f"1 level")


if __name__ == "__main__":
    main()
