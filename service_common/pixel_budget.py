"""In-flight slots weighted by pixels: a worker's memory grows with the pixels it holds.

A request's images (photo, background, trimap, hint; or the size the background route draws)
are charged to the worker's budget, ``MAX_PIXELS_IN_FLIGHT``, from their headers before any
pixel is decoded, and given back when the request ends. A request whose images together exceed
the whole budget is refused with 413; one that finds too little of it free waits as a request
waits for a slot (``QUEUE_TIMEOUT``), then gets 503 with ``Retry-After``. So a worker's peak
memory is bounded by its budget, whatever mix of sizes arrives at once.
"""

from __future__ import annotations

import threading

from flask import current_app, g

from background_replacement.service_common.errors import ApiError


class PixelBudget:
    """``capacity`` pixels shared by the requests of one process."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._free = capacity
        self._changed = threading.Condition()

    @property
    def free(self) -> int:
        return self._free

    def take(self, pixels: int, timeout: float) -> bool:
        """Hold ``pixels`` once that many are free, waiting at most ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._free >= pixels, timeout=timeout):
                return False
            self._free -= pixels
            return True

    def give(self, pixels: int) -> None:
        """Give back ``pixels`` taken before."""
        with self._changed:
            self._free += pixels
            self._changed.notify_all()


def charge_pixels(pixels: int, what: str) -> None:
    """Charge ``pixels`` of ``what`` to this request and to the worker's budget; ``ApiError``
    413 when the request's images together exceed the budget, 503 when it stays busy."""
    budget: PixelBudget = current_app.extensions["pixel_budget"]
    settings = current_app.extensions["settings"]
    held = g.get("pixels_held", 0)
    if held + pixels > budget.capacity:
        raise ApiError(413, "too_many_pixels",
                       f"The {what} has {pixels} pixels; with this request's other images "
                       f"({held}) that is more than the {budget.capacity} pixels "
                       "(MAX_PIXELS_IN_FLIGHT) this service works on at once.")
    if not budget.take(pixels, settings.queue_timeout):
        retry = str(settings.retry_after)
        raise ApiError(503, "overloaded", f"The service is busy with other large images; retry "
                       f"in {retry} s.", {"Retry-After": retry})
    g.pixels_held = held + pixels


def release_pixels() -> None:
    """Give back what this request was charged (at its teardown)."""
    held = g.pop("pixels_held", 0)
    if held:
        current_app.extensions["pixel_budget"].give(held)
