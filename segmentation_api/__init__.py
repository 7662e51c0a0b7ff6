"""Segmentation service: people → person probability → trimap.

``flask --app background_replacement.segmentation_api run -p 3000`` finds ``create_app`` here.
"""

from background_replacement.segmentation_api.app import create_app

__all__ = ["create_app"]
