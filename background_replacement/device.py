"""The one place where the torch device is chosen, and the CPU threads set.

torch is imported only by the functions that need it: the embedded backends never load it, which
keeps their services' start-up short (importing torch takes seconds).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def select_device(setting: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU raises ``RuntimeError``."""
    import torch

    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("DEVICE=cuda but torch sees no CUDA device")
    return torch.device(setting)


# PRECISION setting → the name of its torch dtype (None: plain float32).
PRECISIONS = {"float32": None, "bfloat16": "bfloat16", "float16": "float16"}


def fast_reduced_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision this device runs fast: float16 on CUDA, bfloat16 on a CPU with
    bf16 support (AVX-512 BF16 or AMX), None otherwise."""
    import torch

    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return None


def select_autocast(setting: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype a ``PRECISION`` setting asks for (None: plain float32).

    ``auto`` is :func:`fast_reduced_dtype`; which parts of a network use it is the network's
    choice. An explicit ``bfloat16`` on a CPU without bf16 support, or ``float16`` on a CPU,
    raises ``RuntimeError``.
    """
    if setting == "auto":
        return fast_reduced_dtype(device)
    import torch

    dtype = getattr(torch, PRECISIONS[setting]) if PRECISIONS[setting] else None
    if dtype is torch.bfloat16 and device.type == "cpu" and fast_reduced_dtype(device) is None:
        raise RuntimeError("PRECISION=bfloat16 but this CPU has no fast bf16 support")
    if dtype is torch.float16 and device.type == "cpu":
        raise RuntimeError("PRECISION=float16 is for CUDA; use bfloat16 or float32 on the CPU")
    return dtype


def configure_threads(threads: int) -> int:
    """Set the CPU threads of torch, OpenCV, the BLAS libraries loaded so far (NumPy's, SciPy's,
    cvxopt's), and torch and numba when loaded; 0 means every core this process may use. Call it
    after the models are loaded. Returns the count applied."""
    import cv2
    from threadpoolctl import threadpool_limits

    count = threads or len(os.sched_getaffinity(0))
    if sys.modules.get("torch") is not None:  # loaded (None: made unimportable)
        import torch

        torch.set_num_threads(count)
        # One request's ops run in order, so threads go intra-op. It can be set once per process.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    cv2.setNumThreads(count)
    threadpool_limits(limits=count, user_api="blas")
    if sys.modules.get("numba") is not None:
        import numba

        numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    return count
