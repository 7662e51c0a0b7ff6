"""Matting service: alpha matting and compositing over a chosen background, an HTTP shell over
``background_replacement``.

``flask --app background_replacement.matting_api run -p 5000`` finds ``create_app`` here.
"""

from background_replacement.matting_api.app import create_app

__all__ = ["create_app"]
