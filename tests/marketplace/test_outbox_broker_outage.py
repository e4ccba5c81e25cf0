"""Integration: a real Celery worker over a real Redis that the test stops
mid-request. The request still succeeds, and the event is delivered exactly
once after Redis is back."""

from __future__ import annotations

import time

import pytest
from django.core import mail

from marketplace.accounts.models import User
from marketplace.outbox import services
from marketplace.outbox.models import OutboxEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_registration_succeeds_while_redis_is_down_and_email_goes_out_once_it_is_back(
    api_client, private_redis, celery_on_private_redis
):
    private_redis.stop()

    started = time.monotonic()
    response = api_client.post(
        "/api/auth/register",
        {"username": "offline", "email": "offline@example.com", "password": "sturdy-Pass-42"},
        format="json",
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 201, response.content
    assert elapsed < 5, f"the request waited {elapsed:.1f}s on the dead broker"
    assert User.objects.filter(username="offline").exists()
    event = OutboxEvent.objects.get(topic="accounts.user_registered")
    assert event.delivered_at is None
    assert mail.outbox == []

    # While Redis is still down the periodic dispatcher hands nothing over.
    assert services.dispatch_pending() == 0

    private_redis.start()
    celery_on_private_redis.start_worker()
    assert services.dispatch_pending() == 1

    assert wait_for(lambda: OutboxEvent.objects.filter(delivered_at__isnull=False).count() == 1)
    assert [m.to for m in mail.outbox] == [["offline@example.com"]]

    # A second dispatch (the beat fires again) and a redelivery change nothing.
    assert services.dispatch_pending() == 0
    OutboxEvent.objects.filter(id=event.id).update(delivered_at=None, enqueued_at=None)
    assert services.dispatch_pending() == 1
    assert wait_for(lambda: OutboxEvent.objects.filter(delivered_at__isnull=False).count() == 1)
    time.sleep(0.5)
    assert len(mail.outbox) == 1


def test_events_flow_through_a_real_worker_when_redis_is_up(
    api_client, celery_worker_on_shared_redis
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(
            "/api/auth/register",
            {"username": "online", "email": "online@example.com", "password": "sturdy-Pass-42"},
            format="json",
        )

    assert response.status_code == 201
    # The event row is written already marked as handed over: after commit
    # only the broker is called, no second committed UPDATE of the row.
    table = OutboxEvent._meta.db_table
    assert not [q for q in queries.captured_queries
                if q["sql"].startswith(f'UPDATE "{table}"')]
    assert wait_for(lambda: len(mail.outbox) == 1)
    assert OutboxEvent.objects.get(topic="accounts.user_registered").delivered_at is not None
