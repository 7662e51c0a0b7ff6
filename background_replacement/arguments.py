"""Command-line pieces the commands share (photo, video, batch): the parameters declared in
``params.py`` as options, parsed as the services parse their form fields."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from background_replacement.params import EFFECT_PARAMETERS, Effects, NumberRange, number_field


def number_type(name: str, bounds: NumberRange) -> Callable[[str], float | int]:
    """An argparse type for parameter ``name`` (trimap or effect): a number within its
    range."""

    def parse(text: str) -> float | int:
        try:
            return number_field({name: text}, name, bounds)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(" ", 1)[1]) from None  # "must be…"

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def add_parameter_options(group: argparse._ArgumentGroup,
                          table: Mapping[str, NumberRange]) -> None:
    """One option a parameter of ``table`` (``--kernel-size N``), range-checked, its help
    giving the range and the default."""
    for name, bounds in table.items():
        lead = f"{bounds.help}: " if bounds.help else ""
        group.add_argument(f"--{name.replace('_', '-')}", dest=name,
                           type=number_type(name, bounds), metavar="N",
                           help=f"{lead}{bounds.low:g} to {bounds.high:g} "
                                f"(default: {bounds.default:g})")


def add_effect_arguments(parser: argparse.ArgumentParser) -> None:
    """The composite's effects as options (``--harmonise 0.5``, …), from ``EFFECT_PARAMETERS``."""
    add_parameter_options(parser.add_argument_group(
        "effects", "  on a composite over a picture, blur or colour; all off by default"),
        EFFECT_PARAMETERS)


def effects_given(args: argparse.Namespace) -> Effects:
    """The effects the command line asked for; the others keep their defaults."""
    return Effects(**{name: float(getattr(args, name)) for name in EFFECT_PARAMETERS
                      if getattr(args, name) is not None})
