"""The segmentation service's gunicorn settings:

gunicorn -c python:background_replacement.segmentation_api.gunicorn_conf \\
    'background_replacement.segmentation_api:create_app()'
"""

from background_replacement.service_common.gunicorn_base import gunicorn_settings

globals().update(gunicorn_settings(default_port=3000, timeout=120))
