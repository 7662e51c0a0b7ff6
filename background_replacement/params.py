"""The pipeline's tunable parameters (detection and trimap, and the composite's effects): their
defaults and ranges, declared here once; the services' forms, their OpenAPI documents, the
command lines and the Python API read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class NumberRange:
    """A numeric parameter's default and inclusive bounds."""

    default: float | int
    low: float | int
    high: float | int
    integer: bool = False
    help: str = ""  # one line for the OpenAPI document and the command line


# Detection and trimap parameters, named the same in the services and the Python API; their
# defaults and ranges are declared here once (forms, OpenAPI and ``TrimapParams`` read them).
# The thresholds and band widths were chosen on portraits-tune (300 photos) with the embedded
# selfie + closed-form chain (bench/matting_quality.py): the selfie models' probability spills
# past the person, so the band sits above 0.5, and a narrower band leaves closed-form less
# room to spread alpha over the background.
TRIMAP_PARAMETERS: dict[str, NumberRange] = {
    "score_threshold": NumberRange(0.6, 0.0, 1.0),
    "fg_threshold": NumberRange(0.8, 0.0, 1.0),
    "bg_threshold": NumberRange(0.4, 0.0, 1.0),
    "kernel_size": NumberRange(5, 1, 51, integer=True),
    "erode_iterations": NumberRange(5, 0, 50, integer=True),
    "dilate_iterations": NumberRange(5, 0, 50, integer=True),
}


def check_range(name: str, value: float | int, bounds: NumberRange) -> None:
    """Raise ``ValueError`` when ``value`` is not within ``bounds`` (or not an integer where
    one is needed)."""
    if bounds.integer and int(value) != value:
        raise ValueError(f"'{name}' must be an integer, got {value!r}")
    if not bounds.low <= value <= bounds.high:  # also false for NaN
        raise ValueError(f"'{name}' must be between {bounds.low:g} and {bounds.high:g}, "
                         f"got {value!r}")


def _default(name: str):
    return TRIMAP_PARAMETERS[name].default


@dataclass(frozen=True)
class TrimapParams:
    """Detection and trimap parameters; ``validate`` checks them against their ranges."""

    score_threshold: float = _default("score_threshold")
    fg_threshold: float = _default("fg_threshold")
    bg_threshold: float = _default("bg_threshold")
    kernel_size: int = _default("kernel_size")
    erode_iterations: int = _default("erode_iterations")
    dilate_iterations: int = _default("dilate_iterations")

    def validate(self) -> TrimapParams:
        """Raise ``ValueError`` naming the first parameter out of its range; else ``self``."""
        for field in fields(self):
            check_range(field.name, getattr(self, field.name), TRIMAP_PARAMETERS[field.name])
        if self.bg_threshold >= self.fg_threshold:
            raise ValueError(f"'bg_threshold' ({self.bg_threshold:g}) must be below "
                             f"'fg_threshold' ({self.fg_threshold:g})")
        return self

    def to_form(self) -> dict[str, str]:
        """The parameters as form fields, to pass on to the segmentation service."""
        return {name: str(value) for name, value in asdict(self).items()}


DEFAULT_PARAMS = TrimapParams()


def scaled_band(params: TrimapParams, scale: float) -> TrimapParams:
    """``params`` with the band's widths in pixels (erosion and dilation iterations) scaled by
    ``scale``, each at least one where it was at least one; thresholds and kernel as they
    are. For a smaller person (``pipeline.band_scale``) or a frame solved smaller."""
    def scaled(iterations: int) -> int:
        return max(1, round(iterations * scale)) if iterations else 0

    return replace(params, erode_iterations=scaled(params.erode_iterations),
                   dilate_iterations=scaled(params.dilate_iterations))


# The composite's effects (``background_replacement.effects``), named the same in /matte, the
# commands and the Python API. All off by default: a composite is alpha·F + (1 − alpha)·B with
# the photo's own colours unless asked, so existing callers get the same pixels; the page and
# the README show each one. 0.5 is the strength the README's pictures and the bench use.
EFFECT_PARAMETERS: dict[str, NumberRange] = {
    "harmonise": NumberRange(0.0, 0.0, 1.0, help=(
        "match the people's colour and brightness to a picture or blur background; 0 off, "
        "1 fully")),
    "light_wrap": NumberRange(0.0, 0.0, 1.0, help=(
        "the background's light on the people's soft edges (hair); 0 off, 1 strongest")),
    "shadow": NumberRange(0.0, 0.0, 1.0, help=(
        "opacity of a contact and cast shadow on a picture or colour background; 0 off")),
    "shadow_angle": NumberRange(0.0, -60.0, 60.0, help=(
        "degrees the cast shadow leans from straight behind the people (light from the "
        "front): negative to the left, positive to the right")),
}


def _effect_default(name: str):
    return EFFECT_PARAMETERS[name].default


@dataclass(frozen=True)
class Effects:
    """Strengths of the composite's effects; ``validate`` checks them against their ranges."""

    harmonise: float = _effect_default("harmonise")
    light_wrap: float = _effect_default("light_wrap")
    shadow: float = _effect_default("shadow")
    shadow_angle: float = _effect_default("shadow_angle")

    def validate(self) -> Effects:
        """Raise ``ValueError`` naming the first effect out of its range; else ``self``."""
        for field in fields(self):
            check_range(field.name, getattr(self, field.name), EFFECT_PARAMETERS[field.name])
        return self

    def to_form(self) -> dict[str, str]:
        """The effects that differ from their defaults, as form fields."""
        return {name: f"{value:g}" for name, value in asdict(self).items()
                if value != EFFECT_PARAMETERS[name].default}


NO_EFFECTS = Effects()


def number_field(form: Mapping[str, str], name: str, bounds: NumberRange) -> float | int:
    """``name`` of text form fields as a number within ``bounds`` (its default when absent or
    empty); ``ValueError`` with the message the services answer with."""
    raw = form.get(name)
    if raw is None or raw.strip() == "":
        return bounds.default
    try:
        value: float | int = int(raw) if bounds.integer else float(raw)
    except ValueError:
        kind = "an integer" if bounds.integer else "a number"
        raise ValueError(f"'{name}' must be {kind}, got {raw[:40]!r}") from None
    if not bounds.low <= value <= bounds.high:  # also false for NaN
        raise ValueError(f"'{name}' must be between {bounds.low:g} and {bounds.high:g}, "
                         f"got {raw[:40]}")
    return value


def trimap_params_from(form: Mapping[str, str]) -> TrimapParams:
    """The trimap parameters among text form fields (``/matte``'s, the local command's), the
    defaults for absent ones; ``ValueError`` naming one out of range."""
    return TrimapParams(**{name: number_field(form, name, bounds)
                           for name, bounds in TRIMAP_PARAMETERS.items()}).validate()


def effects_from(form: Mapping[str, str]) -> Effects:
    """The composite's effects among text form fields, off where absent; ``ValueError`` naming
    one out of range."""
    return Effects(**{name: float(number_field(form, name, bounds))
                      for name, bounds in EFFECT_PARAMETERS.items()})
