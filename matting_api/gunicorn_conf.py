"""The matting service's gunicorn settings:

gunicorn -c python:background_replacement.matting_api.gunicorn_conf \\
    'background_replacement.matting_api:create_app()'
"""

from background_replacement.service_common.gunicorn_base import gunicorn_settings
from background_replacement.service_common.protocol import MATTING_PORT

# Longer than the segmentation read timeout plus the slowest matting.
globals().update(gunicorn_settings(default_port=MATTING_PORT, timeout=180))
