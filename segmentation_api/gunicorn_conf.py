"""The segmentation service's gunicorn settings:

gunicorn -c python:background_replacement.segmentation_api.gunicorn_conf \\
    'background_replacement.segmentation_api:create_app()'
"""

from background_replacement.service_common.gunicorn_base import gunicorn_settings
from background_replacement.service_common.protocol import SEGMENTATION_PORT

globals().update(gunicorn_settings(default_port=SEGMENTATION_PORT, timeout=120))
