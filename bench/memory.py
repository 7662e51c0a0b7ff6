"""Peak memory per megapixel: each service's worker, one /matte at a time, over sizes.

    .venv/bin/python -m bench.memory [--sizes 1,4,8,16] [--design]

Both services run under gunicorn as in production (embedded models, or with ``--design`` Mask
R-CNN and FBA with random weights: the memory is the same as with the real ones). Before each
request the workers' peak (VmHWM) is reset (``/proc/PID/clear_refs``), so each row is that one
request's peak above the idle worker. The photo is a real one scaled to each size, sent once
alone and once with an uploaded background of the same size (the request's images together are
what ``MAX_PIXELS_IN_FLIGHT`` counts).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from bench.machine import matmul_gflops
from testing.launcher import ROOT, Service


def reset_peak(service: Service) -> float:
    """Reset the workers' VmHWM to their VmRSS; return that VmRSS in MiB."""
    for pid in service.worker_pids():
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    return service.rss_mib()


def photo_jpeg(megapixels: float) -> bytes:
    """The astronaut scaled to about ``megapixels`` (4:3), as a JPEG."""
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = round(width * 3 / 4)
    image = Image.open(ROOT / "examples" / "astronaut.png").convert("RGB")
    buffer = io.BytesIO()
    image.resize((width, height), Image.BILINEAR).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def measure(matting: Service, segmentation: Service, megapixels: float,
            with_background: bool) -> dict[str, float]:
    jpeg = photo_jpeg(megapixels)
    files = {"image": jpeg} | ({"background": jpeg} if with_background else {})
    idle = {"matting": reset_peak(matting), "segmentation": reset_peak(segmentation)}
    answer = requests.post(matting.url + "/matte", files=files, data={"if_no_person": "original"},
                           timeout=600)
    answer.raise_for_status()
    return {"request_mpx": megapixels * (2 if with_background else 1),
            "matting_idle": idle["matting"],
            "matting_peak": matting.rss_mib("VmHWM") - idle["matting"],
            "segmentation_idle": idle["segmentation"],
            "segmentation_peak": segmentation.rss_mib("VmHWM") - idle["segmentation"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,4,8,16", help="megapixels of the photo")
    parser.add_argument("--design", action="store_true", help="Mask R-CNN + FBA (random weights)")
    args = parser.parse_args()
    sizes = [float(size) for size in args.sizes.split(",")]
    env = {"THREADS": "2", "MAX_PIXELS_IN_FLIGHT": str(int(2.1 * max(sizes) * 1e6)),
           "MAX_IMAGE_PIXELS": str(int(1.1 * max(sizes) * 1e6))}
    if args.design:
        from bench.pipeline import design_weights

        maskrcnn, fba, _ = design_weights()
        env |= {"SEGMENTER": "maskrcnn", "MATTER": "fba", "MASKRCNN_WEIGHTS": str(maskrcnn),
                "FBA_WEIGHTS": str(fba)}
    else:
        env |= {"SEGMENTER": "selfie", "MATTER": "closed-form"}
    print(f"matrix product: {matmul_gflops():.0f} GFLOP/s float64 (a reference for this run)")
    segmentation = Service("segmentation_api", env, server="gunicorn").start()
    try:
        matting = Service("matting_api", env | {"SEGMENTATION_URL": segmentation.url},
                          server="gunicorn").start()
        try:
            rows = [measure(matting, segmentation, size, background)
                    for size in sizes for background in (False, True)]
        finally:
            matting.stop()
    finally:
        segmentation.stop()
    print(f"idle workers: matting {rows[0]['matting_idle']:.0f} MiB, segmentation "
          f"{rows[0]['segmentation_idle']:.0f} MiB")
    print("| request's pixels (Mpx) | matting peak above idle (MiB) | segmentation (MiB) |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {row['request_mpx']:g} | {row['matting_peak']:.0f} | "
              f"{row['segmentation_peak']:.0f} |")
    for service in ("matting", "segmentation"):
        x = np.array([row["request_mpx"] for row in rows])
        y = np.array([row[f"{service}_peak"] for row in rows])
        slope = np.polyfit(x, y, 1)[0]
        print(f"{service}: {slope:.0f} MiB per megapixel (least squares over the rows), "
              f"at most {max(y / x):.0f}")


if __name__ == "__main__":
    main()
