"""The backends' names: each class listed in ``background_replacement.backends`` declares the
key it is listed under, so the log, the headers and the settings all use one name."""

import pytest

from background_replacement.backends import MATTER_BACKENDS, SEGMENTER_BACKENDS
from background_replacement.matters import MATTERS
from background_replacement.segmenters import SEGMENTERS

LISTED = [(SEGMENTERS, name) for name in SEGMENTER_BACKENDS] + [
    (MATTERS, name) for name in MATTER_BACKENDS]


@pytest.mark.parametrize(("registry", "name"), LISTED, ids=[name for _, name in LISTED])
def test_each_listed_class_declares_its_key_as_its_name(registry, name):
    # Imported from the table's "module:Class" string, as the registry loads it (Mask R-CNN
    # and FBA import PyTorch here).
    backend = registry.backend_class(name)
    assert isinstance(backend, type) and backend.name == name


def test_the_registries_list_the_tables():
    assert SEGMENTERS.names == tuple(SEGMENTER_BACKENDS)
    assert MATTERS.names == tuple(MATTER_BACKENDS)
