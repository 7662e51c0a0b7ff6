"""Matters behind one interface, chosen by name (``MATTER=auto|fba|closed-form``)."""

from __future__ import annotations

import logging

from matting_api.matters.base import Matte, Matter, MatterUnavailable
from service_common.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["MATTER_NAMES", "Matte", "Matter", "MatterUnavailable", "load_matter"]

MATTER_NAMES = ("fba", "closed-form")


def _load(name: str, settings: Settings) -> Matter:
    if name == "fba":
        from matting_api.matters.fba_matter import FBAMatter
        from service_common.device import select_device

        return FBAMatter.from_settings(settings, select_device(settings.device))
    if name == "closed-form":
        from matting_api.matters.closed_form import ClosedFormMatter

        return ClosedFormMatter.from_settings(settings)
    raise ValueError(f"unknown matter {name!r}")


def load_matter(settings: Settings) -> Matter:
    """The matter the settings ask for. ``auto``: FBA when its weights load, else closed-form,
    logging why. An explicit choice that cannot load raises ``MatterUnavailable``."""
    if settings.matter != "auto":
        matter = _load(settings.matter, settings)
    else:
        try:
            matter = _load("fba", settings)
        except MatterUnavailable as exc:
            log.warning("MATTER=auto: FBA unavailable (%s); using closed-form matting", exc)
            matter = _load("closed-form", settings)
    log.info("matter: %s", matter.name)
    return matter
