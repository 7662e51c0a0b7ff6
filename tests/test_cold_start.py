"""What keeps the services' start-up short (bench/cold_start.py measures it)."""

import subprocess
import sys

from testing.launcher import ROOT


def test_embedded_services_never_import_torch():
    """Importing torch takes seconds; the embedded backends do not need it."""
    code = ("import sys; import matting_api, segmentation_api\n"
            "from background_replacement.matters import MATTERS\n"
            "from background_replacement.segmenters import SEGMENTERS\n"
            "from background_replacement.device import configure_threads\n"
            "MATTERS.backend_class('closed-form'); SEGMENTERS.backend_class('selfie')\n"
            "configure_threads(1)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
