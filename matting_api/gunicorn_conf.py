"""gunicorn -c python:matting_api.gunicorn_conf 'matting_api:create_app()'"""

from service_common.gunicorn_base import gunicorn_settings

# Longer than the segmentation read timeout plus the slowest matting.
globals().update(gunicorn_settings(default_port=5000, timeout=180))
