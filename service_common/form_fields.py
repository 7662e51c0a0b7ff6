"""Parsing and range-checking of form parameters shared by both services."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from background_replacement.params import (
    Effects,
    NumberRange,
    TrimapParams,
    effects_from,
    number_field,
    trimap_params_from,
)
from background_replacement.people import PeopleChoice
from background_replacement.service_common.errors import ApiError

Parsed = TypeVar("Parsed")


def form_number(form: Mapping[str, str], name: str, default: float, low: float, high: float,
                *, integer: bool = False) -> float | int:
    """Read ``name`` from ``form`` as a number in [low, high], or raise a 400 ``ApiError``."""
    bounds = NumberRange(default, low, high, integer=integer)
    return _bad_parameter(lambda: number_field(form, name, bounds))


def _bad_parameter(parse: Callable[[], Parsed]) -> Parsed:
    """``parse()``, its ``ValueError`` answered as a 400 ``bad_parameter``."""
    try:
        return parse()
    except ValueError as exc:
        raise ApiError(400, "bad_parameter", f"{exc}.") from None


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
    return _bad_parameter(lambda: trimap_params_from(form))


def people_choice(form: Mapping[str, str]) -> PeopleChoice:
    """Parse ``people`` and ``points`` (which people to keep), or raise a 400 ``ApiError``."""
    return _bad_parameter(lambda: PeopleChoice.parse(form.get("people"), form.get("points")))


def effects(form: Mapping[str, str]) -> Effects:
    """Parse and range-check the composite's effects a request sent; absent ones are off (their
    defaults). Raises a 400 ``ApiError``."""
    return _bad_parameter(lambda: effects_from(form))
