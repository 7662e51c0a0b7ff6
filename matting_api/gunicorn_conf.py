"""The matting service's gunicorn settings:

gunicorn -c python:background_replacement.matting_api.gunicorn_conf \\
    'background_replacement.matting_api:create_app()'
"""

from background_replacement.service_common.gunicorn_base import gunicorn_settings

# Longer than the segmentation read timeout plus the slowest matting.
globals().update(gunicorn_settings(default_port=5000, timeout=180))
