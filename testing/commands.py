"""The project's commands as the tests and benches run them: this interpreter, by module path."""

import sys

PHOTO_COMMAND = [sys.executable, "-m", "background_replacement.client.remove_background"]
VIDEO_COMMAND = [sys.executable, "-m", "background_replacement.client.video"]
SERVICES_COMMAND = [sys.executable, "-m", "background_replacement.service_common.serve"]
