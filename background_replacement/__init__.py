"""Background replacement as a library: the pipeline the services and the client stand on.

Segmenters and matters behind one interface each (``segmenters``, ``matters``), trimaps
(``trimap``: the values 0/128/255 live there only), matting at scale, compositing, the
background grammar (``backgrounds``), which people to keep (``people``), hints painted over
the trimap (``hints``), and the Python API: ``BackgroundReplacer`` and
``replace``. Nothing here speaks HTTP; PyTorch loads only when a backend that needs it does.
"""

from background_replacement.api import BackgroundReplacer, default_replacer, replace
from background_replacement.hints import Hint
from background_replacement.params import Effects, TrimapParams
from background_replacement.people import NoSuchPerson, PeopleChoice
from background_replacement.pipeline import NoPersonFound
from background_replacement.settings import Settings

__all__ = ["BackgroundReplacer", "Effects", "Hint", "NoPersonFound", "NoSuchPerson", "PeopleChoice",
           "Settings", "TrimapParams", "default_replacer", "replace"]
