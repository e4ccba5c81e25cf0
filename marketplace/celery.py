"""The Celery app. Settings come from Django's settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The kernel's sub-apps live under marketplace/, which autodiscovery finds
# through INSTALLED_APPS as well; named here so a worker imports them first.
app.autodiscover_tasks(["marketplace.outbox", "marketplace.accounts"])
