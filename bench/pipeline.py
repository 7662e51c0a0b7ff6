"""Pipeline benchmark: per-stage medians, end to end over HTTP, memory, FLOP rates, transport.

Starts both services as real processes on 127.0.0.1 (under gunicorn with their production
configs) for each backend set and sends a real photo (examples/astronaut.png, scaled to cover
each size and sent as a JPEG, as a camera would) to ``/matte``. Prints a table and writes
everything as JSON.

- embedded: the pose segmenter (MediaPipe's BlazePose and selfie models) + closed-form matting,
  the whole chain in one request.
- design: Mask R-CNN + FBA, with the real weights when both files are present and random
  weights otherwise (the cost is the same). FBA is given the trimap the embedded segmenter
  makes for the same photo (uploaded, so it works on the region real weights would give it);
  Mask R-CNN is timed on the same photo in its own request, and the design's end to end is the
  sum of the two requests. FBA runs once per PRECISION (float32, auto, bfloat16 where the CPU
  has bf16), and each one's alpha is compared with float32's.

    .venv/bin/python -m bench.pipeline [--repeats 5] [--sizes 640x480,1280x720,1920x1080]
        [--sets embedded,design] [--soak 200] [--json out/pipeline.json]

The embedded 1280×720 end to end is also set beside the straightforward pipeline
(bench.matting_quality's reference: one selfie pass, the 0.1/0.9 trimap, pymatting's
closed-form at full size), run in this process on the same photo in the same run.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import requests
import torch
from PIL import Image

from background_replacement.compositing import cover
from background_replacement.service_common.settings import ServiceSettings
from background_replacement.service_common.uploads import decode_image, encode_image
from background_replacement.settings import Settings
from background_replacement.timing import parse_server_timing
from bench.machine import instruction_sets
from testing.launcher import ROOT, Service

# Measured as deployed: gunicorn with each service's production config (README).
SERVER = "gunicorn"
# Issue 15: the embedded photo end to end at least this many times faster than the
# straightforward pipeline.
STRAIGHTFORWARD_TARGET = 15
# ... and the design path end to end within this many times the matrix product's time for the
# networks' FLOPs.
DESIGN_TARGET = 1.3
COMPUTE_STAGES = ("decode", "seg-decode", "seg-segment", "seg-trimap", "seg-encode", "matting",
                  "compositing", "encode")


@functools.cache
def photo(width: int, height: int) -> tuple[bytes, np.ndarray]:
    """The benchmark photo at width×height: JPEG bytes and RGB pixels (made once per size)."""
    source = np.asarray(Image.open(ROOT / "examples" / "astronaut.png").convert("RGB"))
    pixels = cover(source, height, width)
    return encode_image(pixels, "jpeg", quality=95), pixels


def png(pixels: np.ndarray) -> bytes:
    return encode_image(pixels, "png")


def timed_requests(session: requests.Session, url: str, repeats: int, files: dict,
                   data: dict) -> tuple[list[float], list[dict[str, float]], requests.Response]:
    """One warm-up, then ``repeats`` requests: client seconds and server stages of each."""
    session.post(url, files=files, data=data, timeout=600).raise_for_status()
    totals, stages, response = [], [], None
    for _ in range(repeats):
        start = time.perf_counter()
        response = session.post(url, files=files, data=data, timeout=600)
        totals.append(time.perf_counter() - start)
        response.raise_for_status()
        stages.append(parse_server_timing(response.headers.get("Server-Timing", "")))
    return totals, stages, response


def summarise(totals: list[float], stages: list[dict[str, float]]) -> dict[str, float]:
    """Medians of each stage, end to end, and HTTP/serialisation (end to end − compute)."""
    summary = {name: statistics.median(s.get(name, 0.0) for s in stages)
               for name in COMPUTE_STAGES}
    overheads = [total - sum(s.get(name, 0.0) for name in COMPUTE_STAGES)
                 for total, s in zip(totals, stages, strict=True)]
    summary["http"] = statistics.median(overheads)
    summary["end_to_end"] = statistics.median(totals)
    return summary


def matmul_rate(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of an n×n matrix product in ``dtype`` on the CPU."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def straightforward_seconds(width: int, height: int, repeats: int) -> float:
    """Median seconds of the straightforward pipeline (bench.matting_quality's reference) on
    the benchmark photo, in this process, after one run on a small photo (numba's compiling)."""
    from bench.matting_quality import straightforward_pipeline

    run = straightforward_pipeline()
    run(*photo(320, 240))
    jpeg, pixels = photo(width, height)
    return statistics.median(_timed(lambda: run(jpeg, pixels)) for _ in range(repeats))


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


# FBA's stages (background_replacement.fba.STAGES) → the module that runs each.
FBA_STAGE_MODULES = {"stem": "encoder.conv1", "layer1": "encoder.layer1",
                     "layer2": "encoder.layer2", "layer3": "encoder.layer3",
                     "layer4": "encoder.layer4", "ppm": "decoder.ppm",
                     "conv_up1": "decoder.conv_up1", "conv_up2": "decoder.conv_up2",
                     "conv_up3": "decoder.conv_up3", "head": "decoder.conv_up4"}


def fba_flops(trimap: np.ndarray) -> dict[str, float]:
    """FLOPs of one FBA forward, per stage, on what the matting service gives it for
    ``trimap``: the region around the people, shrunk to FBA_MAX_PIXELS when it is larger."""
    from torch.utils.flop_counter import FlopCounterMode

    from background_replacement.fba import build_fba, network_inputs
    from background_replacement.matters.fba_matter import fba_solve_plan
    from background_replacement.scaling import scaled_size, shrink

    box, scale = fba_solve_plan(trimap, Settings.load().fba_max_pixels)
    crop = trimap[box]
    size = scaled_size(crop.shape, scale)
    image = shrink(np.zeros((*crop.shape, 3), np.uint8), size)
    crop = shrink(crop, size, labels=True)
    model = build_fba().eval()
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(*[torch.from_numpy(array) for array in network_inputs(image, crop)])
    counts = counter.get_flop_counts()
    stages = {stage: float(sum(counts.get(f"FBANet.{module}", {}).values()))
              for stage, module in FBA_STAGE_MODULES.items()}
    stages["other"] = float(counter.get_total_flops()) - sum(stages.values())
    return stages


def fba_ideal_seconds(stage_flops: dict[str, float], precision: str,
                      rates: dict[str, float]) -> float:
    """Seconds the 2048² matrix product would need for FBA's FLOPs, each stage at the rate of
    the dtype the matting service runs it in under ``precision`` (``rates``: GFLOP/s by dtype
    name)."""
    from background_replacement.matters.fba_matter import fba_precision

    chosen = fba_precision(precision, torch.device("cpu"))
    seconds = 0.0
    for stage, flops in stage_flops.items():
        reduced = chosen.dtype is not None and stage in chosen.stages
        seconds += flops / (rates[str(chosen.dtype).removeprefix("torch.")] if reduced
                            else rates["float32"]) / 1e9
    return seconds


def maskrcnn_flops(height: int, width: int) -> float:
    """FLOPs of the segmentation service's Mask R-CNN pass at its default detection size, with
    random weights (which find nobody, so no mask head: add ~1 GFLOP per person found)."""
    from torch.utils.flop_counter import FlopCounterMode

    from background_replacement.segmenters.maskrcnn import MaskRCNNSegmenter, build_maskrcnn

    settings = Settings.load()
    segmenter = MaskRCNNSegmenter(build_maskrcnn(min_size=settings.maskrcnn_min_size,
                                                 max_size=settings.maskrcnn_max_size,
                                                 proposals=settings.maskrcnn_proposals).eval(),
                                  torch.device("cpu"))
    counter = FlopCounterMode(display=False)
    with counter:
        segmenter.segment(np.zeros((height, width, 3), np.uint8), score_threshold=0.6)
    return float(counter.get_total_flops())


class _Echo(BaseHTTPRequestHandler):
    """Receives a payload and turns it back into arrays, as the receiving service would."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/json":
            payload = json.loads(body)
            np.asarray(payload["image"], np.uint8), np.asarray(payload["trimap"], np.uint8)
        else:
            split = int(self.headers["X-Image-Length"])
            limits = ServiceSettings()  # the services' default limits
            for part in (body[:split], body[split:]):  # decoded as the matting service does
                decode_image(part, max_bytes=limits.max_upload_bytes,
                             max_pixels=limits.max_image_pixels)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def transport(jpeg: bytes, pixels: np.ndarray, trimap: np.ndarray, repeats: int) -> dict:
    """Seconds to move an image and its trimap between processes: as JSON lists of numbers
    (the original design) and as the project sends them (the upload's own JPEG, a PNG trimap),
    serialisation, loopback HTTP and deserialisation included."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    session = requests.Session()

    def as_json() -> int:
        body = json.dumps({"image": pixels.tolist(), "trimap": trimap.tolist()}).encode()
        session.post(url + "/json", data=body, timeout=600).raise_for_status()
        return len(body)

    def as_project() -> int:
        body = jpeg + png(trimap)
        session.post(url + "/bytes", data=body, headers={"X-Image-Length": str(len(jpeg))},
                     timeout=600).raise_for_status()
        return len(body)

    try:
        results = {}
        for name, send in (("json_lists", as_json), ("project", as_project)):
            size = send()
            seconds = statistics.median(_timed(send) for _ in range(repeats))
            results[name] = {"seconds": seconds, "bytes": size}
        results["ratio"] = results["json_lists"]["seconds"] / results["project"]["seconds"]
        return results
    finally:
        server.shutdown()


def run_embedded(sizes, repeats: int, soak: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The embedded set over HTTP; also returns the trimap of each size for the design set."""
    segmentation = Service("segmentation_api", {"SEGMENTER": "pose"}, server=SERVER).start()
    matting = Service("matting_api", {"MATTER": "closed-form",
                                      "SEGMENTATION_URL": segmentation.url},
                      server=SERVER).start()
    session, results, trimaps = requests.Session(), {}, {}
    try:
        for width, height in sizes:
            jpeg, _ = photo(width, height)
            totals, stages, _ = timed_requests(session, matting.url + "/matte", repeats,
                                               {"image": jpeg}, {})
            results[f"{width}x{height}"] = summarise(totals, stages)
            answer = session.post(segmentation.url + "/trimap", files={"image": jpeg},
                                  timeout=600)
            trimaps[f"{width}x{height}"] = np.asarray(Image.open(io.BytesIO(answer.content)))
        memory = {"matting_peak_mib": matting.rss_mib("VmHWM"),
                  "segmentation_peak_mib": segmentation.rss_mib("VmHWM")}
        if soak:
            memory |= soak_memory(session, matting, segmentation, soak)
        results["memory"] = memory
    finally:
        matting.stop()
        segmentation.stop()
    return results, trimaps


def soak_memory(session: requests.Session, matting: Service, segmentation: Service,
                count: int) -> dict[str, float]:
    """Resident memory growth of both services from the 50th to the ``count``-th request
    (640×480)."""
    jpeg, _ = photo(640, 480)
    marks: dict[str, float] = {}
    for index in range(1, count + 1):
        session.post(matting.url + "/matte", files={"image": jpeg}, timeout=600)
        if index == min(50, count):
            marks = {"matting": matting.settled_rss_mib(),
                     "segmentation": segmentation.settled_rss_mib()}
    return {"soak_requests": count,
            "matting_growth_mib": matting.settled_rss_mib() - marks["matting"],
            "segmentation_growth_mib": segmentation.settled_rss_mib() - marks["segmentation"]}


def design_weights() -> tuple[Path, Path, str]:
    """Mask R-CNN and FBA weights: the real files when both are present, else random weights
    saved to a temporary folder (the cost of a forward pass is the same)."""
    from background_replacement.fba import build_fba
    from background_replacement.models import FBA
    from background_replacement.segmenters.base import SegmenterUnavailable
    from background_replacement.segmenters.maskrcnn import build_maskrcnn, find_weights

    try:
        if FBA.default_path.is_file():
            return find_weights(), FBA.default_path, "real weights"
    except SegmenterUnavailable:
        pass
    folder = Path(tempfile.mkdtemp(prefix="bench-weights-"))
    torch.manual_seed(0)
    torch.save(build_maskrcnn().state_dict(), folder / "maskrcnn.pth")
    torch.save(build_fba().state_dict(), folder / "FBA.pth")
    return folder / "maskrcnn.pth", folder / "FBA.pth", "random weights"


def run_design(sizes, repeats: int, trimaps: dict[str, np.ndarray], precisions) -> dict:
    """Mask R-CNN and FBA (see design_weights), FBA once for each precision."""
    maskrcnn_weights, fba_weights, weights = design_weights()
    segmentation = Service("segmentation_api", {
        "SEGMENTER": "maskrcnn", "MASKRCNN_WEIGHTS": str(maskrcnn_weights)},
        server=SERVER).start()
    session, results = requests.Session(), {"weights": weights}
    alphas: dict[str, dict[str, np.ndarray]] = {}
    try:
        for width, height in sizes:
            jpeg, _ = photo(width, height)
            totals, stages, _ = timed_requests(session, segmentation.url + "/trimap", repeats,
                                               {"image": jpeg}, {"allow_empty": "true"})
            seg = {"seg-" + name: statistics.median(s.get(name, 0.0) for s in stages)
                   for name in ("decode", "segment", "trimap", "encode")}
            seg["seg_request"] = statistics.median(totals)
            results[f"{width}x{height}"] = {"segmentation": seg}
        results["memory"] = {"segmentation_peak_mib": segmentation.rss_mib("VmHWM")}
        for precision in precisions:
            matting = Service("matting_api", {
                "MATTER": "fba", "PRECISION": precision, "FBA_WEIGHTS": str(fba_weights),
                "SEGMENTATION_URL": segmentation.url}, server=SERVER).start()
            try:
                for width, height in sizes:
                    key = f"{width}x{height}"
                    results[key][precision], alpha = _design_matting(
                        session, matting, key, photo(width, height)[0], trimaps[key],
                        repeats, results[key]["segmentation"])
                    alphas.setdefault(key, {})[precision] = alpha
                results["memory"][f"matting_peak_mib_{precision}"] = matting.rss_mib("VmHWM")
            finally:
                matting.stop()
    finally:
        segmentation.stop()
    results["alpha_difference"] = {
        precision: {key: alpha_difference(a[precision], a["float32"], trimaps[key])
                    for key, a in alphas.items()}
        for precision in precisions if precision != "float32"}
    return results


def alpha_difference(alpha: np.ndarray, reference: np.ndarray, trimap: np.ndarray) -> dict:
    """How far one precision's 8-bit alpha is from float32's over the trimap's unknown pixels,
    and the share of those pixels where float32's alpha is neither 0 nor 255: a difference
    only shows where alpha is not clamped (random weights clamp FBA's own alpha almost
    everywhere; the values in between then come from the guided upsampling)."""
    unknown = (trimap != 0) & (trimap != 255)
    if not unknown.any():
        return {"max_levels": 0, "share_over_1_level": 0.0, "share_unsaturated": 0.0}
    difference = np.abs(alpha - reference)[unknown]
    inside = reference[unknown]
    return {"max_levels": int(difference.max()),
            "share_over_1_level": float(np.mean(difference > 1)),
            "share_unsaturated": float(np.mean((inside > 0) & (inside < 255)))}


def _design_matting(session: requests.Session, matting: Service, key: str, jpeg: bytes,
                    trimap: np.ndarray, repeats: int,
                    seg: dict[str, float]) -> tuple[dict[str, float], np.ndarray]:
    """FBA timings with an uploaded trimap, the Mask R-CNN request added, and its alpha."""
    files = {"image": jpeg, "trimap": png(trimap)}
    totals, stages, _ = timed_requests(session, matting.url + "/matte", repeats, files, {})
    matte = summarise(totals, stages)
    seg_stages = ("seg-decode", "seg-segment", "seg-trimap", "seg-encode")
    for name in seg_stages:
        matte[name] = seg[name]
    matte["http"] += seg["seg_request"] - sum(seg[name] for name in seg_stages)
    matte["end_to_end"] += seg["seg_request"]
    alpha = session.post(matting.url + "/matte", files=files, data={"output": "alpha"},
                         timeout=600)
    return matte, np.asarray(Image.open(io.BytesIO(alpha.content)), np.int16)


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    columns = (*COMPUTE_STAGES, "http", "end_to_end")
    print(f"\n{title} (median seconds)")
    print(f"{'size':>10} " + " ".join(f"{c[:11]:>11}" for c in columns) + "   http %")
    for key, row in rows.items():
        share = 100 * row["http"] / row["end_to_end"]
        print(f"{key:>10} " + " ".join(f"{row.get(c, 0.0):11.3f}" for c in columns)
              + f"   {share:5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="640x480,1280x720,1920x1080")
    parser.add_argument("--sets", default="embedded,design")
    parser.add_argument("--soak", type=int, default=200,
                        help="requests for the memory-growth check (0: skip)")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "pipeline.json")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    sets = args.sets.split(",")
    bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    report: dict = {"machine": {"threads": torch.get_num_threads(),
                                "instruction_sets": instruction_sets(),
                                "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                                "matmul_gflops_float32": matmul_rate(torch.float32),
                                "matmul_gflops_bfloat16": matmul_rate(torch.bfloat16)
                                if bf16 else None}}
    embedded, trimaps = run_embedded(sizes, args.repeats, args.soak)
    report["embedded"] = embedded
    key_sf = "1280x720" if "1280x720" in embedded else next(iter(trimaps))
    reference = straightforward_seconds(*(int(v) for v in key_sf.split("x")),
                                        repeats=max(1, min(3, args.repeats)))
    report["straightforward"] = {"size": key_sf, "seconds": reference,
                                 "project_seconds": embedded[key_sf]["end_to_end"],
                                 "speed_up": reference / embedded[key_sf]["end_to_end"]}
    key720 = "1280x720" if "1280x720" in trimaps else next(iter(trimaps))
    jpeg, pixels = photo(*(int(v) for v in key720.split("x")))
    report["transport"] = {key720: transport(jpeg, pixels, trimaps[key720], args.repeats)}
    if "design" in sets:
        # auto: bfloat16 on the stages where it is within 1/255; bfloat16: on every stage.
        precisions = ["float32", "auto", "bfloat16"] if bf16 else ["float32"]
        design = run_design(sizes, args.repeats, trimaps, precisions)
        flops, ideal = {}, {}
        # The faster of the rates measured before everything and again after the design runs:
        # the machine's speed wanders, and the faster reference is the stricter one.
        rates = {"float32": max(report["machine"]["matmul_gflops_float32"],
                                matmul_rate(torch.float32)),
                 "bfloat16": max(report["machine"]["matmul_gflops_bfloat16"],
                                 matmul_rate(torch.bfloat16)) if bf16 else None}
        design["matmul_gflops"] = rates
        for width, height in sizes:
            key = f"{width}x{height}"
            stage_flops, mask = fba_flops(trimaps[key]), maskrcnn_flops(height, width)
            fba = sum(stage_flops.values())
            flops[key] = {"fba_gflop": fba / 1e9, "maskrcnn_gflop": mask / 1e9}
            ideal[key] = {"fba_stage_gflop": {k: v / 1e9 for k, v in stage_flops.items()}}
            for precision in precisions:
                seconds = design[key][precision]["matting"]
                flops[key][f"fba_gflops_{precision}"] = fba / seconds / 1e9
                # Issue 15: end to end within DESIGN_TARGET × the matrix product's time for the
                # networks' FLOPs (Mask R-CNN runs in float32).
                matmul_seconds = (mask / rates["float32"] / 1e9
                                  + fba_ideal_seconds(stage_flops, precision, rates))
                ideal[key][precision] = {
                    "matmul_seconds": matmul_seconds,
                    "end_to_end": design[key][precision]["end_to_end"],
                    "ratio": design[key][precision]["end_to_end"] / matmul_seconds}
            flops[key]["maskrcnn_gflops_float32"] = mask / design[key]["segmentation"][
                "seg-segment"] / 1e9
        design["flops"] = flops
        design["matmul_bound"] = ideal
        report["design"] = design

    machine = report["machine"]
    print(f"machine: {', '.join(machine['instruction_sets'])} (torch: "
          f"{machine['torch_cpu_capability']}); {machine['threads']} threads, matrix product "
          f"{machine['matmul_gflops_float32']:.0f} GFLOP/s float32"
          + (f", {machine['matmul_gflops_bfloat16']:.0f} GFLOP/s bfloat16" if bf16 else ""))
    print_table("embedded: pose + closed-form",
                {k: v for k, v in embedded.items() if k != "memory"})
    print("memory:", json.dumps(embedded["memory"]))
    sf = report["straightforward"]
    print(f"embedded {sf['size']} end to end over HTTP {sf['project_seconds']:.3f} s; the "
          f"straightforward pipeline in process {sf['seconds']:.3f} s: {sf['speed_up']:.1f}× "
          f"faster (target ≥ {STRAIGHTFORWARD_TARGET:g}×)")
    if "design" in report:
        design = report["design"]
        for precision in precisions:
            print_table(f"design: Mask R-CNN + FBA ({precision}, {design['weights']})",
                        {k: design[k][precision] for k in (f"{w}x{h}" for w, h in sizes)})
        print("memory:", json.dumps(design["memory"]))
        print("FLOPs and achieved rates (stage time includes pre/post-processing):")
        for key, row in design["flops"].items():
            print(f"  {key}: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items()))
        rates = ", ".join(f"{k} {v:.0f}" for k, v in design["matmul_gflops"].items() if v)
        print(f"end to end beside the matrix product's time for the same FLOPs, each stage at "
              f"its precision (target ≤ {DESIGN_TARGET:g}×; GFLOP/s, the faster of the start's "
              f"and after the design runs: {rates}):")
        for key, row in design["matmul_bound"].items():
            stages = ", ".join(f"{k} {v:.1f}" for k, v in row["fba_stage_gflop"].items())
            print(f"  {key}: FBA GFLOP by stage: {stages}")
            for precision in precisions:
                r = row[precision]
                print(f"  {key} {precision}: {r['end_to_end']:.3f} s vs "
                      f"{r['matmul_seconds']:.3f} s: {r['ratio']:.2f}×")
        for precision, rows in design["alpha_difference"].items():
            print(f"alpha, {precision} vs float32, unknown pixels (8-bit levels):",
                  json.dumps(rows))
    t = report["transport"][key720]
    print(f"transport at {key720}: JSON lists {t['json_lists']['seconds']:.3f} s "
          f"({t['json_lists']['bytes'] / 1e6:.1f} MB), project {t['project']['seconds']:.3f} s "
          f"({t['project']['bytes'] / 1e6:.2f} MB): {t['ratio']:.1f}× slower")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
