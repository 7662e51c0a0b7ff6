"""THREADS reaches every thread pool a service computes with."""

import cv2
import torch
from threadpoolctl import threadpool_info

import background_replacement.matters.sparse_solve  # noqa: F401  (loads cvxopt's BLAS, as the matter does)
from background_replacement.device import configure_threads


def test_configure_threads_sets_torch_opencv_and_every_blas():
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert len(blas) >= 2  # NumPy's and cvxopt's OpenBLAS at least
    try:
        assert configure_threads(1) == 1
        assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
        assert all(pool["num_threads"] == 1
                   for pool in threadpool_info() if pool["user_api"] == "blas")
    finally:
        configure_threads(0)
