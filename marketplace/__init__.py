"""The Django project and the shared kernel of the marketplace."""

from marketplace.celery import app as celery_app

__all__ = ["celery_app"]
