"""Start both services, write examples/astronaut.png over green and as a cutout into out/, stop.

Run through scripts/demo.sh, which sets up the virtual environment first.
"""

from __future__ import annotations

import sys
from pathlib import Path

from background_replacement.client.matting_client import MattingClient, MattingError
from background_replacement.client.photos import Job, Matting, process
from background_replacement.service_common.protocol import MATTING_PORT, SEGMENTATION_PORT
from testing.launcher import ROOT, Service


def main() -> int:
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    source = ROOT / "examples" / "astronaut.png"
    segmentation = Service("segmentation_api", port=SEGMENTATION_PORT)
    matting = Service("matting_api", {"SEGMENTATION_URL": f"http://127.0.0.1:{SEGMENTATION_PORT}"},
                      port=MATTING_PORT)
    try:
        print(f"starting the segmentation service on :{SEGMENTATION_PORT} and the matting service "
              f"on :{MATTING_PORT}")
        segmentation.start()
        matting.start()
        client = MattingClient(matting.url)
        jobs = [("astronaut-green.png", "green", "composite"),
                ("astronaut-cutout.png", "transparent", "cutout")]
        for name, background, output in jobs:
            target: Path = out / name
            process(client, Job(source, target), Matting(background, output, "png"))
            print(f"wrote {target.relative_to(ROOT)}")
    except (MattingError, RuntimeError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        matting.stop()
        segmentation.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
