"""First run: what the first ``replace()`` costs in a new Python process, with numba's cache
empty (a first ever run, or a read-only install where numba cannot keep one) and then filled.

Each run is a fresh process (embedded backends, as the Python API's defaults pick them when no
weights are there): the seconds to import the API and build the replacer (models loaded and
warmed up), its first ``replace_array`` on the photo, and a second one (warm), and whether numba
or pymatting were imported. ``NUMBA_CACHE_DIR`` points at a new empty folder for the cold run,
which the warm runs then reuse.

    .venv/bin/python -m bench.first_run [--photo examples/astronaut.png] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from testing.launcher import ROOT

RUN = """
import json, sys, time
start = time.perf_counter()
from background_replacement import BackgroundReplacer
replacer = BackgroundReplacer({"segmenter": "selfie", "matter": "closed-form"})
loaded = time.perf_counter()
replacer.replace_array(sys.argv[1])
first = time.perf_counter()
replacer.replace_array(sys.argv[1])
second = time.perf_counter()
print(json.dumps({"load": loaded - start, "first": first - loaded, "warm": second - first,
                  "numba": "numba" in sys.modules, "pymatting": "pymatting" in sys.modules}))
"""


def one_run(photo: Path, cache: Path) -> dict:
    """One new process's times (seconds) with numba's cache in ``cache``."""
    done = subprocess.run([sys.executable, "-c", RUN, str(photo)], cwd=ROOT, check=True,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(cache)},
                          capture_output=True, text=True, timeout=900)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=ROOT / "examples" / "astronaut.png")
    parser.add_argument("--repeats", type=int, default=3, help="warm-cache runs (median)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        cold = one_run(args.photo, Path(cache))
        warm = [one_run(args.photo, Path(cache)) for _ in range(args.repeats)]
    print(f"{'caches':<12}{'import+load s':>14}{'first s':>9}{'warm s':>8}  numba, pymatting")
    print(f"{'empty':<12}{cold['load']:>14.2f}{cold['first']:>9.2f}{cold['warm']:>8.2f}  "
          f"{cold['numba']}, {cold['pymatting']}")
    median = {key: statistics.median(run[key] for run in warm) for key in ("load", "first",
                                                                           "warm")}
    print(f"{'filled':<12}{median['load']:>14.2f}{median['first']:>9.2f}{median['warm']:>8.2f}"
          f"  (median of {args.repeats})")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
