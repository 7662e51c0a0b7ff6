"""Parsing and range-checking of form parameters shared by both services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from service_common.errors import ApiError


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


@dataclass(frozen=True)
class NumberRange:
    """A numeric form parameter's default and inclusive bounds."""

    default: float | int
    low: float | int
    high: float | int
    integer: bool = False


# The trimap parameters, the same in both services; the OpenAPI documents are built from this.
TRIMAP_PARAMETERS: dict[str, NumberRange] = {
    "score_threshold": NumberRange(0.6, 0.0, 1.0),
    "fg_threshold": NumberRange(0.9, 0.0, 1.0),
    "bg_threshold": NumberRange(0.1, 0.0, 1.0),
    "kernel_size": NumberRange(5, 1, 51, integer=True),
    "erode_iterations": NumberRange(10, 0, 50, integer=True),
    "dilate_iterations": NumberRange(10, 0, 50, integer=True),
}


@dataclass(frozen=True)
class TrimapParams:
    """Detection and trimap parameters, named the same in both services."""

    score_threshold: float = 0.6
    fg_threshold: float = 0.9
    bg_threshold: float = 0.1
    kernel_size: int = 5
    erode_iterations: int = 10
    dilate_iterations: int = 10

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> TrimapParams:
        """Parse and range-check the parameters a request sent; absent ones keep defaults."""
        params = cls(**{name: form_number(form, name, r.default, r.low, r.high,
                                          integer=r.integer)
                        for name, r in TRIMAP_PARAMETERS.items()})
        if params.bg_threshold >= params.fg_threshold:
            raise ApiError(400, "bad_parameter",
                           f"'bg_threshold' ({params.bg_threshold:g}) must be below "
                           f"'fg_threshold' ({params.fg_threshold:g}).")
        return params

    def to_form(self) -> dict[str, str]:
        """The parameters as form fields, to pass on to the segmentation service."""
        return {name: str(value) for name, value in asdict(self).items()}
