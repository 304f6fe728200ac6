"""Flask web app: upload an image, see the label and a probability chart; JSON API beside the page."""

from webapp.app import create_app

__all__ = ["create_app"]
