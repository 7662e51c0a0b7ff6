"""Parsing and range-checking of form parameters shared by both services."""

from __future__ import annotations

from collections.abc import Mapping

from background_replacement.params import (
    EFFECT_PARAMETERS,
    TRIMAP_PARAMETERS,
    Effects,
    TrimapParams,
)
from background_replacement.people import PeopleChoice
from background_replacement.service_common.errors import ApiError


def form_number(form: Mapping[str, str], name: str, default: float, low: float, high: float,
                *, integer: bool = False) -> float | int:
    """Read ``name`` from ``form`` as a number in [low, high], or raise a 400 ``ApiError``."""
    raw = form.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value: float | int = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ApiError(400, "bad_parameter",
                       f"'{name}' must be {kind}, got {raw[:40]!r}.") from None
    if not low <= value <= high or value != value:  # value != value: NaN
        raise ApiError(400, "bad_parameter",
                       f"'{name}' must be between {low:g} and {high:g}, got {raw[:40]}.")
    return value


def form_flag(form: Mapping[str, str], name: str, default: bool = False) -> bool:
    """Read ``name`` as true/false (also 1/0, yes/no, on/off), or raise a 400 ``ApiError``."""
    raw = (form.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise ApiError(400, "bad_parameter", f"'{name}' must be true or false, got {raw[:40]!r}.")


def trimap_params(form: Mapping[str, str]) -> TrimapParams:
    """Parse and range-check the trimap parameters a request sent; absent ones keep their
    defaults. Raises a 400 ``ApiError``."""
    params = TrimapParams(**{name: form_number(form, name, r.default, r.low, r.high,
                                               integer=r.integer)
                             for name, r in TRIMAP_PARAMETERS.items()})
    try:
        return params.validate()
    except ValueError as exc:
        raise ApiError(400, "bad_parameter", f"{exc}.") from None


def people_choice(form: Mapping[str, str]) -> PeopleChoice:
    """Parse ``people`` and ``points`` (which people to keep), or raise a 400 ``ApiError``."""
    try:
        return PeopleChoice.parse(form.get("people"), form.get("points"))
    except ValueError as exc:
        raise ApiError(400, "bad_parameter", f"{exc}.") from None


def effects(form: Mapping[str, str]) -> Effects:
    """Parse and range-check the composite's effects a request sent; absent ones are off (their
    defaults). Raises a 400 ``ApiError``."""
    return Effects(**{name: float(form_number(form, name, r.default, r.low, r.high))
                      for name, r in EFFECT_PARAMETERS.items()})
