"""The mail outage through a real Celery worker over Redis: the task retries
with its (shortened) backoff and the e-mail goes out exactly once."""

from __future__ import annotations

import time

import pytest
from django.core import mail

from marketplace.notifications import services
from marketplace.notifications.models import DeliveryStatus, EmailDelivery

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_real_worker_retries_through_an_outage_and_sends_once(
    alice, flaky_mail, settings, celery_worker_on_shared_redis
):
    settings.NOTIFICATIONS_EMAIL_RETRY_BACKOFF = 0.05
    flaky_mail.fail_next(2)

    notification = services.notify(recipient=alice, kind="price_drop", payload={"title": "Lamp"})
    delivery = EmailDelivery.objects.get(notifications=notification)

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status != DeliveryStatus.PENDING:
            break
        time.sleep(0.05)
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 3
    assert flaky_mail.attempts == 3
    assert [m.to for m in mail.outbox] == [[alice.email]]
