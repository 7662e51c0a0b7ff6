"""``python -m background_replacement.batch``: see ``batch.cli``."""

import sys

from background_replacement.batch.cli import main

sys.exit(main())
