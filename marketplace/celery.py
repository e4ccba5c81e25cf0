"""The Celery app. Settings come from Django's settings (CELERY_* names)."""

import logging
import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The kernel's sub-apps live under marketplace/, which autodiscovery finds
# through INSTALLED_APPS as well; named here so a worker imports them first.
app.autodiscover_tasks(["marketplace.outbox", "marketplace.accounts", "marketplace.analytics"])


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_worker_logs(logger: logging.Logger, **kwargs: object) -> None:
    """Celery installs its own log handlers in workers; they mask secrets and
    phone numbers too (the same filter as settings.LOGGING)."""
    from marketplace.logredact import RedactingFilter

    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
