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


def test_constructors_default_to_the_settings_defaults():
    """A backend built without the settings (a bench, a notebook) sizes itself as the services
    do: each default is stated once, in backends.py."""
    import inspect

    from background_replacement.matters.closed_form import ClosedFormMatter
    from background_replacement.matters.fba_matter import FBAMatter
    from background_replacement.segmenters.maskrcnn import build_maskrcnn, load_maskrcnn
    from background_replacement.settings import Settings

    def default(function, parameter):
        return inspect.signature(function).parameters[parameter].default

    settings = Settings()
    assert default(ClosedFormMatter, "max_unknown") == settings.closed_form_max_unknown
    assert default(FBAMatter, "max_pixels") == settings.fba_max_pixels
    for function in (build_maskrcnn, load_maskrcnn):
        assert (default(function, "min_size"), default(function, "max_size"),
                default(function, "proposals")) == (settings.maskrcnn_min_size,
                                                     settings.maskrcnn_max_size,
                                                     settings.maskrcnn_proposals)
