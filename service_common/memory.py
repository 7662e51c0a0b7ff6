"""Process-wide settings of the C allocator (glibc's malloc; no-ops elsewhere)."""

from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Let malloc keep at most ``arenas`` arenas, so that memory one request thread frees is
    reused by the next rather than each thread keeping its own high-water mark. Call it before
    the process starts threads. Returns whether it applied."""
    return bool(_LIBC and _LIBC.mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """Give the pages malloc holds but no longer uses back to the system (``malloc_trim``).
    Returns whether any were released."""
    return bool(_LIBC and _LIBC.malloc_trim(0))
