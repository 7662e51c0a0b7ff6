"""gunicorn -c python:segmentation_api.gunicorn_conf 'segmentation_api:create_app()'"""

from service_common.gunicorn_base import gunicorn_settings

globals().update(gunicorn_settings(default_port=3000, timeout=120))
