"""Matting quality on ../shared/data's sets and the generated groups: the project beside the
straightforward pipeline, on the same images, in the same run.

For each set (tune: portraits-tune, dev: portraits-dev, fullbody: fullbody-dev, davis:
davis-people, groups: ``bench.groups``' generated pictures, made under out/groups when missing)
it prints mean IoU of (alpha ≥ 0.5), the boundary F-score (3 px), person pixels found (the share
of the mask's pixels with alpha ≥ 0.5, averaged over images), exterior haze (share of the pixels
more than 10 px outside the person with alpha > 25/255), interior haze (more than 10 px inside
with alpha < 230/255) and seconds per image; for the project also how many true people exactly
one of its people matches with IoU ≥ 0.5 (its index mask, as /people answers it; one true person
per photo outside the groups), the share of images where every person is matched so, and how
many of its people match nobody (extra: a person split in two, or someone unlabelled). It
writes a JSON and a PNG sheet of the 12 photos where the project's IoU is lowest (photo, true
mask edge in red, alpha).

- project: the backends the Python API picks by default (``SEGMENTER``, ``MATTER``, else
  ``auto``; embedded: MediaPipe selfie + closed-form). By default in process, through
  ``BackgroundReplacer.replace`` (its people: ``find_people``, untimed), so that a thousand
  photos stay affordable; ``--http`` sends each photo to ``/matte`` and ``/people`` instead,
  with both services started as real processes unless ``--server`` names a running one.
- straightforward: selfie probability (one pass), 0.1/0.9 trimap (5×5 ellipse, 10 erosions and
  10 dilations), pymatting's closed-form at full size, alpha ≥ 0.5. Written out here, apart
  from the project's code, so that it stays the same reference whatever the project changes.
  ``--cache DIR`` keeps its alphas between runs; ``--reference-limit N`` runs it on the first N
  photos of each set only, and the project is then also scored on those same N.

    .venv/bin/python -m bench.matting_quality [--sets tune,dev|all] [--limit N]
        [--reference-limit N] [--http] [--server URL] [--cache DIR]
        [--json out/matting_quality.json] [--sheet out/matting_quality_worst.png]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import requests
from PIL import Image

from bench import groups
from bench.data import DATA, ROOT, alpha_scores, instance_scores, portraits, summary
from testing.launcher import Service

SETS = {"tune": DATA / "portraits-tune", "dev": DATA / "portraits-dev",
        "fullbody": DATA / "fullbody-dev", "davis": DATA / "davis-people", "groups": groups.GROUPS}
WORST = 12
SHEET_HEIGHT = 200  # pixels of each tile in the sheet

Pipeline = Callable[[bytes, np.ndarray], np.ndarray]  # (JPEG bytes, RGB) → alpha float H×W
# (JPEG bytes, RGB) → index mask H×W: 0 nobody, 1 + i where the project's person i is
PeopleFinder = Callable[[bytes, np.ndarray], np.ndarray]


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


def project_in_process() -> tuple[Pipeline, PeopleFinder, str]:
    """The default backends through the core's Python API (the services' functions); alpha
    comes back in 8 bits, as /matte answers it. Also its people and the backends' names."""
    from background_replacement import BackgroundReplacer
    from background_replacement.device import configure_threads
    from background_replacement.pipeline import find_people

    replacer = BackgroundReplacer()
    configure_threads(replacer.settings.threads)

    def run(_: bytes, rgb: np.ndarray) -> np.ndarray:
        alpha = replacer.replace_array(rgb, output="alpha", if_no_person="empty")
        return alpha.astype(np.float32) / 255.0

    def people(_: bytes, rgb: np.ndarray) -> np.ndarray:
        return find_people(replacer.segmenter, rgb).index_mask()

    names = f"{replacer.segmenter.name} + {replacer.matter.name}, in process"
    return run, people, names


def project_over_http(server: str) -> tuple[Pipeline, PeopleFinder, str]:
    """Each photo sent as it is to ``server``'s /matte (its alpha read back) and /people (its
    index mask)."""
    session = requests.Session()

    def run(jpeg: bytes, _: np.ndarray) -> np.ndarray:
        response = session.post(f"{server}/matte", files={"image": jpeg},
                                data={"output": "alpha", "if_no_person": "empty"}, timeout=300)
        response.raise_for_status()
        return np.asarray(Image.open(io.BytesIO(response.content)), np.float32) / 255.0

    def people(jpeg: bytes, _: np.ndarray) -> np.ndarray:
        response = session.post(f"{server}/people", files={"image": jpeg}, timeout=300)
        response.raise_for_status()
        encoded = response.json()["index_mask"].split(",", 1)[1]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))

    return run, people, f"{server}'s default backends, over HTTP (/matte, /people)"


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


def true_people(set_name: str, folder: Path, image_id: str, truth: np.ndarray) -> np.ndarray:
    """The instance labels of a photo: the generated groups' own, else its one person."""
    if set_name == "groups":
        return groups.instances(folder, image_id)
    return truth.astype(np.uint8)


def pooled(scores: list[dict], seconds: list[float], matches: list[dict] | None) -> dict:
    """``summary`` with seconds per image and, given instance scores, their shares."""
    result = summary(scores) | {"seconds_per_image": float(np.mean(seconds)) if seconds
                                else None}
    if matches:
        people = sum(m["people"] for m in matches)
        result |= {"people": people,
                   "instances_found": sum(m["matched"] for m in matches) / max(1, people),
                   "images_all_found": float(np.mean([m["matched"] == m["people"]
                                                      for m in matches])),
                   "unmatched_found": sum(m["unmatched_found"] for m in matches)}
    return result


def evaluate_set(set_name: str, limit: int, reference_limit: int,
                 pipelines: dict[str, Callable], finder: PeopleFinder
                 ) -> tuple[dict[str, dict], list]:
    """The rows of one set (project; project on the straightforward pipeline's photos when it
    ran on fewer; straightforward) and (id, path, truth, alpha, IoU) of the ``WORST`` project
    IoUs."""
    folder = groups.ensure_groups() if set_name == "groups" else SETS[set_name]
    scores: dict[str, list[dict]] = {name: [] for name in pipelines}
    seconds: dict[str, list[float]] = {name: [] for name in pipelines}
    matches, per_image = [], []
    for index, (image_id, path, truth) in enumerate(portraits(folder)):
        if limit and index >= limit:
            break
        jpeg = path.read_bytes()
        rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
        for name, run in pipelines.items():
            if name != "project" and reference_limit and index >= reference_limit:
                continue
            alpha, took = run(f"{set_name}/{image_id}", jpeg, rgb)
            scores[name].append(alpha_scores(alpha, truth))
            if took is not None:
                seconds[name].append(took)
            if name == "project":
                per_image.append((f"{set_name}/{image_id}", path, truth, alpha,
                                  scores[name][-1]["iou"]))
                per_image = sorted(per_image, key=lambda row: row[4])[:WORST]
        found = finder(jpeg, rgb)
        matches.append(instance_scores(found, true_people(set_name, folder, image_id, truth)))
    rows = {"project": pooled(scores["project"], seconds["project"], matches)}
    shared = len(scores["straightforward"])
    if shared < len(scores["project"]):
        rows[f"project, first {shared}"] = pooled(scores["project"][:shared],
                                                  seconds["project"][:shared], matches[:shared])
    rows["straightforward"] = pooled(scores["straightforward"], seconds["straightforward"], None)
    return rows, per_image


def evaluate(sets: list[str], limit: int, reference_limit: int, pipelines: dict[str, Callable],
             finder: PeopleFinder) -> tuple[dict, list]:
    """Scores of every pipeline on every set, and the rows of the ``WORST`` project IoUs."""
    results: dict[str, dict] = {}
    worst: list = []
    for set_name in sets:
        results[set_name], per_image = evaluate_set(set_name, limit, reference_limit, pipelines,
                                                    finder)
        worst = sorted(worst + per_image, key=lambda row: row[4])[:WORST]
    return results, worst


def print_table(results: dict, description: str) -> None:
    """One line per set and pipeline; instance columns for the project's rows (extra: its
    people who match no true person)."""
    print(f"project: {description}; alpha ≥ 0.5 against the masks")
    print(f"{'set':8} {'pipeline':18} {'images':>6} {'mean IoU':>9} {'bound. F':>9} "
          f"{'found':>7} {'ext. haze':>10} {'int. haze':>10} {'s/image':>8} {'people':>6} "
          f"{'own inst':>8} {'all own':>8} {'extra':>5}")
    for set_name, by_pipeline in results.items():
        for name, r in by_pipeline.items():
            took = "cached" if r["seconds_per_image"] is None else f"{r['seconds_per_image']:.2f}"
            instances = (f"{r['people']:6d} {r['instances_found']:8.1%} "
                         f"{r['images_all_found']:8.1%} {r['unmatched_found']:5d}"
                         if "people" in r else "")
            print(f"{set_name:8} {name:18} {r['images']:6d} {r['mean_iou']:9.4f} "
                  f"{r['boundary_f']:9.4f} {r['person_found']:7.1%} {r['exterior_haze']:10.3%} "
                  f"{r['interior_haze']:10.3%} {took:>8} {instances}".rstrip())


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="tune,dev",
                        help=f"comma-separated: {', '.join(SETS)}; or all")
    parser.add_argument("--limit", type=int, default=0, help="first N photos of each set (0: all)")
    parser.add_argument("--reference-limit", type=int, default=0,
                        help="the straightforward pipeline on the first N photos of each set "
                             "only (0: as many as the project)")
    parser.add_argument("--http", action="store_true",
                        help="the project through /matte and /people (start both services) "
                             "instead of in process")
    parser.add_argument("--server", help="with --http: a running matting service")
    parser.add_argument("--cache", type=Path,
                        help="keep the straightforward pipeline's alphas here between runs (8-bit "
                             "PNGs, as /matte answers alpha)")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "matting_quality.json")
    parser.add_argument("--sheet", type=Path, default=ROOT / "out" / "matting_quality_worst.png")
    args = parser.parse_args()
    args.sets = list(SETS) if args.sets == "all" else [s.strip() for s in args.sets.split(",")
                                                        if s.strip()]
    if unknown := set(args.sets) - set(SETS):
        parser.error(f"unknown sets {sorted(unknown)}; use {', '.join(SETS)} or all")
    return args


def main() -> None:
    args = parse_arguments()
    services: list[Service] = []
    try:
        if args.http and args.server is None:
            segmentation = Service("segmentation_api", {}).start()
            services.append(segmentation)
            services.append(Service("matting_api",
                                    {"SEGMENTATION_URL": segmentation.url}).start())
        project, finder, description = (project_over_http(args.server or services[-1].url)
                                        if args.http else project_in_process())
        pipelines = {"project": cached(project, None),
                     "straightforward": cached(straightforward_pipeline(), args.cache)}
        results, worst = evaluate(args.sets, args.limit, args.reference_limit, pipelines, finder)
    finally:
        for service in services:
            service.stop()
    report = {"project_run": description, "sets": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    rows = [(name, np.asarray(Image.open(path).convert("RGB")), truth, alpha, score)
            for name, path, truth, alpha, score in worst]
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(worst_sheet(rows)).save(args.sheet)
    print_table(results, description)
    print(f"wrote {args.json} and {args.sheet} (the {WORST} lowest project IoUs)")


if __name__ == "__main__":
    main()
