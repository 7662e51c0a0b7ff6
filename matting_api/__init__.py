"""Matting service: alpha matting and compositing over a chosen background.

``flask --app matting_api run -p 5000`` finds ``create_app`` here. It is imported on first use,
so that the pure parts (``matting_api.compositing``) can be used, by the clients for instance,
without loading Flask and PyTorch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from matting_api.app import create_app

        return create_app
    raise AttributeError(f"module 'matting_api' has no attribute {name!r}")
