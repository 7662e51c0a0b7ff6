"""The README says what the code does: every setting the services read is in its settings
table, once, and the table names nothing else."""

from __future__ import annotations

import re
from dataclasses import fields

import numpy as np
import pytest
from PIL import Image

from background_replacement.service_common.settings import ServiceSettings
from background_replacement.settings import Settings
from scripts.effect_pictures import NAMES, make
from testing.launcher import ROOT

# Read by gunicorn's config (service_common/gunicorn_base.py), not by the Settings record.
SERVING_VARIABLES = {"BIND", "WORKERS"}


def settings_table() -> list[str]:
    """The variable names in the first column of the README's settings table, in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1])
    return names


def test_every_setting_is_in_the_readme_table_once():
    names = settings_table()
    expected = ({field.name.upper() for field in (*fields(Settings), *fields(ServiceSettings))}
                | SERVING_VARIABLES)
    assert sorted(names) == sorted(set(names)), "a setting appears twice"
    assert set(names) == expected


def test_gunicorn_reads_the_serving_variables_the_table_names():
    source = (ROOT / "service_common" / "gunicorn_base.py").read_text()
    assert set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', source)) == SERVING_VARIABLES


def test_the_readme_shows_each_effect_picture_the_script_makes():
    shown = re.findall(r"examples/effects/([\w-]+)\.jpg", (ROOT / "README.md").read_text())
    assert sorted(set(shown)) == sorted(NAMES)
    for name in NAMES:
        with Image.open(ROOT / "examples" / "effects" / f"{name}.jpg") as picture:
            assert picture.format == "JPEG" and picture.size == (640, 320)


@pytest.mark.slow
def test_the_script_makes_before_and_after_pictures_that_differ(tmp_path):
    for path in make(tmp_path):
        pixels = np.asarray(Image.open(path), int)
        before, after = pixels[:, :320], pixels[:, 320:]
        assert np.abs(after - before)[40:].mean() > 0.3, path.name  # below the labels
