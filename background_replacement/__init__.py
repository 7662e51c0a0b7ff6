"""Background replacement as a library: the pipeline the services and the client stand on.

Segmenters and matters behind one interface each (``segmenters``, ``matters``), trimaps
(``trimap``: the values 0/128/255 live there only), matting at scale, compositing, the
background grammar (``backgrounds``), which people to keep (``people``), hints painted over
the trimap (``hints``), and the Python API: ``BackgroundReplacer`` and
``replace``. Nothing here speaks HTTP; PyTorch loads only when a backend that needs it does.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from background_replacement.api import BackgroundReplacer, default_replacer, replace
    from background_replacement.hints import Hint
    from background_replacement.params import Effects, TrimapParams
    from background_replacement.people import NoSuchPerson, PeopleChoice
    from background_replacement.pipeline import NoPersonFound
    from background_replacement.settings import Settings

# The public names, each imported from its module on first use: the namespace's subpackages
# (the client, the services) import this package first and need none of it.
_EXPORTS = {
    "BackgroundReplacer": "api", "default_replacer": "api", "replace": "api", "Hint": "hints",
    "Effects": "params", "TrimapParams": "params", "NoSuchPerson": "people",
    "PeopleChoice": "people", "NoPersonFound": "pipeline", "Settings": "settings",
}
__all__ = ["BackgroundReplacer", "Effects", "Hint", "NoPersonFound", "NoSuchPerson", "PeopleChoice",
           "Settings", "TrimapParams", "default_replacer", "replace"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
