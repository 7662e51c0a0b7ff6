"""Matting quality on ../shared/data/portraits-tune and portraits-dev: the project beside the
straightforward pipeline, on the same images, in the same run.

For each set it prints mean IoU of (alpha ≥ 0.5), the boundary F-score (3 px), exterior haze
(share of the pixels more than 10 px outside the person with alpha > 25/255), interior haze (more
than 10 px inside with alpha < 230/255) and seconds per image, and writes a JSON and a PNG sheet
of the 12 portraits where the project's IoU is lowest (photo, true mask edge in red, alpha).

- project: the default embedded backends (MediaPipe selfie + closed-form). By default in process,
  through the same functions the services call (``segment_to_trimap``, ``ClosedFormMatter``),
  so that 320 photos stay affordable; ``--http`` sends each photo to ``/matte`` instead, with
  both services started as real processes unless ``--server`` names a running one.
- straightforward: selfie probability (one pass), 0.1/0.9 trimap (5×5 ellipse, 10 erosions and
  10 dilations), pymatting's closed-form at full size, alpha ≥ 0.5. Written out here, apart
  from the project's code, so that it stays the same reference whatever the project changes.
  ``--cache DIR`` keeps its alphas between runs.

    .venv/bin/python -m bench.matting_quality [--sets tune,dev] [--limit N] [--http]
        [--server URL] [--cache DIR] [--json out/matting_quality.json]
        [--sheet out/matting_quality_worst.png]
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import requests
from PIL import Image

from bench.data import DATA, ROOT, alpha_scores, portraits, summary
from testing.launcher import Service

SETS = {"tune": DATA / "portraits-tune", "dev": DATA / "portraits-dev"}
WORST = 12
SHEET_HEIGHT = 200  # pixels of each tile in the sheet

Pipeline = Callable[[bytes, np.ndarray], np.ndarray]  # (JPEG bytes, RGB) → alpha float H×W


def straightforward_pipeline() -> Pipeline:
    """The reference: one selfie pass, the fixed 0.1/0.9 trimap, pymatting's closed-form."""
    from mediapipe.python.solutions.selfie_segmentation import SelfieSegmentation
    from pymatting import estimate_alpha_cf

    graph = SelfieSegmentation(model_selection=0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def run(_: bytes, rgb: np.ndarray) -> np.ndarray:
        probability = np.asarray(graph.process(rgb).segmentation_mask, np.float32)
        sure = cv2.erode((probability >= 0.9).astype(np.uint8), kernel, iterations=10) > 0
        band = cv2.dilate(((probability >= 0.1) & (probability < 0.9)).astype(np.uint8), kernel,
                          iterations=10) > 0
        trimap = np.where((probability >= 0.1) | band, 0.5, 0.0)
        trimap[sure & ~band] = 1.0
        if not np.any(trimap == 1.0):
            return np.zeros(probability.shape, np.float32)
        return np.clip(estimate_alpha_cf(rgb / 255.0, trimap), 0, 1).astype(np.float32)

    return run


def project_in_process() -> Pipeline:
    """The default embedded backends through the core's Python API (the services' functions);
    alpha comes back in 8 bits, as /matte answers it."""
    from background_replacement import BackgroundReplacer
    from background_replacement.device import configure_threads

    replacer = BackgroundReplacer({"segmenter": "selfie", "matter": "closed-form"})
    configure_threads(replacer.settings.threads)

    def run(_: bytes, rgb: np.ndarray) -> np.ndarray:
        alpha = replacer.replace(rgb, output="alpha", if_no_person="empty")
        return alpha.astype(np.float32) / 255.0

    return run


def project_over_http(server: str) -> Pipeline:
    """Each photo sent as it is to ``server``'s /matte, its alpha read back."""
    session = requests.Session()

    def run(jpeg: bytes, _: np.ndarray) -> np.ndarray:
        response = session.post(f"{server}/matte", files={"image": jpeg},
                                data={"output": "alpha"}, timeout=300)
        response.raise_for_status()
        return np.asarray(Image.open(io.BytesIO(response.content)), np.float32) / 255.0

    return run


def cached(pipeline: Pipeline, folder: Path | None) -> Callable[[str, bytes, np.ndarray],
                                                                 tuple[np.ndarray, float | None]]:
    """``pipeline`` with its alphas kept as 8-bit PNGs under ``folder`` (seconds None when read
    back), or as it is when ``folder`` is None."""
    def run(key: str, jpeg: bytes, rgb: np.ndarray) -> tuple[np.ndarray, float | None]:
        path = folder / f"{key}.png" if folder else None
        if path is not None and path.is_file():
            return np.asarray(Image.open(path), np.float32) / 255.0, None
        start = time.perf_counter()
        alpha = pipeline(jpeg, rgb)
        seconds = time.perf_counter() - start
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)).save(path)
        return alpha, seconds

    return run


def tile(pixels: np.ndarray) -> np.ndarray:
    """An RGB uint8 tile ``SHEET_HEIGHT`` pixels high."""
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    width = round(pixels.shape[1] * SHEET_HEIGHT / pixels.shape[0])
    return cv2.resize(pixels, (width, SHEET_HEIGHT), interpolation=cv2.INTER_AREA)


def worst_sheet(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """Two columns of (photo, photo with the true mask's edge in red, alpha), one per portrait,
    labelled with its id and IoU."""
    strips = []
    for name, rgb, truth, alpha, score in rows:
        edge = rgb.copy()
        mask = truth.astype(np.uint8)
        outline = cv2.dilate(mask, np.ones((5, 5), np.uint8)) - cv2.erode(mask, np.ones((5, 5),
                                                                                        np.uint8))
        edge[outline > 0] = (255, 0, 0)
        alpha_u8 = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)
        strip = np.hstack([tile(rgb), tile(edge), tile(alpha_u8), np.full((SHEET_HEIGHT, 8, 3),
                                                                          255, np.uint8)])
        cv2.putText(strip, f"{name} IoU {score:.3f}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 0), 1, cv2.LINE_AA)
        strips.append(strip)
    width = max(s.shape[1] for s in strips)
    strips = [np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0)), constant_values=255)
              for s in strips]
    if len(strips) % 2:
        strips.append(np.full_like(strips[0], 255))
    half = len(strips) // 2
    return np.hstack([np.vstack(strips[:half]), np.vstack(strips[half:])])


def evaluate(sets: list[str], limit: int, pipelines: dict[str, Callable]) -> tuple[dict, list]:
    """Scores of every pipeline on every set, and the rows of the ``WORST`` project IoUs."""
    results: dict[str, dict] = {}
    per_image = []
    for set_name in sets:
        scores: dict[str, list[dict]] = {name: [] for name in pipelines}
        seconds: dict[str, list[float]] = {name: [] for name in pipelines}
        for index, (image_id, path, truth) in enumerate(portraits(SETS[set_name])):
            if limit and index >= limit:
                break
            jpeg = path.read_bytes()
            rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
            for name, run in pipelines.items():
                alpha, took = run(f"{set_name}/{image_id}", jpeg, rgb)
                score = alpha_scores(alpha, truth)
                scores[name].append(score)
                if took is not None:
                    seconds[name].append(took)
                if name == "project":
                    per_image.append((f"{set_name}/{image_id}", path, truth, alpha,
                                      score["iou"]))
                    per_image = sorted(per_image, key=lambda row: row[4])[:WORST]
        results[set_name] = {
            name: summary(scores[name]) | {
                "seconds_per_image": float(np.mean(seconds[name])) if seconds[name] else None}
            for name in pipelines}
    return results, per_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="tune,dev", help="comma-separated: tune, dev")
    parser.add_argument("--limit", type=int, default=0, help="first N photos of each set (0: all)")
    parser.add_argument("--http", action="store_true",
                        help="the project through /matte (start both services) instead of in "
                             "process")
    parser.add_argument("--server", help="with --http: a running matting service")
    parser.add_argument("--cache", type=Path,
                        help="keep the straightforward pipeline's alphas here between runs (8-bit "
                             "PNGs, as /matte answers alpha)")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "matting_quality.json")
    parser.add_argument("--sheet", type=Path, default=ROOT / "out" / "matting_quality_worst.png")
    args = parser.parse_args()
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    if unknown := set(sets) - set(SETS):
        parser.error(f"unknown sets {sorted(unknown)}; use {', '.join(SETS)}")
    services: list[Service] = []
    try:
        if args.http and args.server is None:
            segmentation = Service("segmentation_api", {"SEGMENTER": "selfie"}).start()
            services.append(segmentation)
            services.append(Service("matting_api", {"MATTER": "closed-form",
                                                    "SEGMENTATION_URL": segmentation.url}).start())
        project = (project_over_http(args.server or services[-1].url) if args.http
                   else project_in_process())
        pipelines = {"project": cached(project, None),
                     "straightforward": cached(straightforward_pipeline(), args.cache)}
        results, per_image = evaluate(sets, args.limit, pipelines)
    finally:
        for service in services:
            service.stop()
    mode = "over HTTP (/matte)" if args.http else "in process"
    report = {"project_run": mode, "sets": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    rows = [(name, np.asarray(Image.open(path).convert("RGB")), truth, alpha, score)
            for name, path, truth, alpha, score in per_image]
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(worst_sheet(rows)).save(args.sheet)
    print(f"project: selfie + closed-form, {mode}; alpha ≥ 0.5 against the masks")
    print(f"{'set':5} {'pipeline':16} {'images':>6} {'mean IoU':>9} {'bound. F':>9} "
          f"{'ext. haze':>10} {'int. haze':>10} {'s/image':>8}")
    for set_name, by_pipeline in results.items():
        for name, r in by_pipeline.items():
            took = "cached" if r["seconds_per_image"] is None else f"{r['seconds_per_image']:.2f}"
            print(f"{set_name:5} {name:16} {r['images']:6d} {r['mean_iou']:9.4f} "
                  f"{r['boundary_f']:9.4f} {r['exterior_haze']:10.3%} {r['interior_haze']:10.3%} "
                  f"{took:>8}")
    print(f"wrote {args.json} and {args.sheet} (the {WORST} lowest project IoUs)")


if __name__ == "__main__":
    main()
