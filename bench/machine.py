"""What the machine a benchmark runs on can do: its CPU's vector instruction sets and the rate
of a plain matrix product, so that every timing is read beside a reference from the same run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

# The CPU flags (as /proc/cpuinfo names them) that decide how fast the pipeline's kernels run.
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni",
                "avx512_bf16", "amx_tile", "amx_bf16")


def instruction_sets(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The ``VECTOR_FLAGS`` the first CPU lists, in that order; empty where it cannot be read."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [flag for flag in VECTOR_FLAGS if flag in flags]
    return []


def matmul_gflops(n: int = 1024, repeats: int = 5) -> float:
    """Best GFLOP/s of an n×n float64 matrix product through NumPy's BLAS (the library
    closed-form matting's Cholesky factorisation runs on), with its threads as configured."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def describe() -> str:
    """One line: CPUs this process may use, instruction sets, load average."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    flags = " ".join(instruction_sets()) or "flags unknown"
    return f"{len(os.sched_getaffinity(0))} CPUs ({flags}); load average {load}"
