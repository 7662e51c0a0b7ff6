"""Backends of one kind (segmenters, matters) chosen by name from one list.

Each backend is a class with a ``from_settings(settings)`` class method and a ``name``, the
key it is listed under; it is imported only when chosen, so listing the names costs no PyTorch
import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

from background_replacement.backends import AUTO

if TYPE_CHECKING:
    from background_replacement.settings import Settings

log = logging.getLogger(__name__)


class Registry:
    """Backends by name, ``"module:Class"`` each, in the order ``auto`` tries them: the last one
    is the embedded default, which always loads. ``unavailable`` is the exception a backend
    raises when it cannot load (weights missing or wrong). ``prechecks``: for a backend that
    needs PyTorch, a function that says, without importing it or the backend's module, why the
    backend cannot load (None when it may), so the embedded path never imports PyTorch."""

    def __init__(self, kind: str, backends: Mapping[str, str], unavailable: type[Exception],
                 prechecks: Mapping[str, Callable[[Settings], str | None]] | None = None) -> None:
        self.kind, self._backends, self.unavailable = kind, dict(backends), unavailable
        self._prechecks = dict(prechecks or {})

    @property
    def names(self) -> tuple[str, ...]:
        """The backend names, in ``auto``'s order."""
        return tuple(self._backends)

    @property
    def choices(self) -> tuple[str, ...]:
        """What a setting may say: ``auto`` or a backend name."""
        return (AUTO, *self.names)

    def backend_class(self, name: str) -> Any:
        """The class registered as ``name`` (imported now)."""
        if name not in self._backends:
            raise ValueError(f"unknown {self.kind} {name!r}; use one of {', '.join(self.choices)}")
        module, _, attribute = self._backends[name].partition(":")
        return getattr(import_module(module), attribute)

    def load(self, choice: str, settings: Settings) -> Any:
        """The backend ``choice`` names, built from ``settings``. ``auto``: the first one that
        loads, logging why each one before it did not. An explicit choice that cannot load
        raises ``unavailable`` with the fix in its message."""
        candidates = self.names if choice == AUTO else (choice,)
        for position, name in enumerate(candidates):
            try:
                precheck = self._prechecks.get(name)
                reason = precheck(settings) if precheck is not None else None
                if reason is not None:
                    raise self.unavailable(reason)
                backend = self.backend_class(name).from_settings(settings)
            except self.unavailable as exc:
                if position == len(candidates) - 1:
                    raise
                log.warning("%s=auto: %s unavailable (%s); trying %s", self.kind.upper(), name,
                            exc, candidates[position + 1])
                continue
            log.info("%s: %s", self.kind, backend.name)
            return backend
        raise AssertionError("unreachable: a registry has at least one backend")
