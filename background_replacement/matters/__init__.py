"""Matters behind one interface, chosen by name (``MATTER=auto|fba|closed-form``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from background_replacement.backends import MATTER_BACKENDS
from background_replacement.matters.base import Matte, Matter, MatterUnavailable
from background_replacement.registry import Registry

if TYPE_CHECKING:
    from background_replacement.settings import Settings

__all__ = ["MATTERS", "Matte", "Matter", "MatterUnavailable", "load_matter"]

def _fba_missing(settings: Settings) -> str | None:
    """Why FBA cannot load, known without importing PyTorch (see ``Registry``)."""
    from background_replacement.models import FBA, design_missing

    path = Path(settings.fba_weights).expanduser() if settings.fba_weights else FBA.default_path
    return design_missing(FBA, [path], "FBA")


# The one list of matting backends, in the order MATTER=auto tries them.
MATTERS = Registry("matter", MATTER_BACKENDS, MatterUnavailable, prechecks={"fba": _fba_missing})


def load_matter(settings: Settings) -> Matter:
    """The matter ``settings.matter`` asks for. ``auto``: FBA when its weights load, else
    closed-form, logging why. An explicit choice that cannot load raises ``MatterUnavailable``."""
    return MATTERS.load(settings.matter, settings)
