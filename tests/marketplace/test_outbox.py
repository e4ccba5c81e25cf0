"""The transactional outbox: written with the change, delivered after commit,
at most once per handler, and never lost when the broker is away."""

from __future__ import annotations

import pytest
from django.db import transaction

from marketplace.outbox import services
from marketplace.outbox.models import OutboxDelivery, OutboxEvent

TOPIC = "tests.something_happened"


@pytest.fixture
def received():
    calls: list[dict] = []

    def handler(payload: dict) -> None:
        calls.append(payload)

    services.subscribe(TOPIC, handler, name="tests.recorder")
    yield calls
    services._subscribers.pop(TOPIC, None)


@pytest.mark.django_db(transaction=True)
def test_event_is_delivered_after_commit(received):
    with transaction.atomic():
        event = services.publish(topic=TOPIC, payload={"n": 1})
        assert received == []  # nothing leaves the transaction early

    assert received == [{"n": 1}]
    event.refresh_from_db()
    assert event.delivered_at is not None
    assert OutboxDelivery.objects.filter(event=event, handler="tests.recorder").count() == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_write_leaks_no_event(received):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.publish(topic=TOPIC, payload={"n": 2})
        raise RuntimeError("the write failed")

    assert received == []
    assert not OutboxEvent.objects.filter(topic=TOPIC).exists()


@pytest.mark.django_db(transaction=True)
def test_delivering_the_same_event_twice_runs_the_handler_once(received):
    event = services.publish(topic=TOPIC, payload={"n": 3})
    OutboxEvent.objects.filter(id=event.id).update(delivered_at=None)  # as if redelivered

    services.deliver(event_id=event.id)
    services.deliver(event_id=event.id)

    assert received == [{"n": 3}]


@pytest.mark.django_db(transaction=True)
def test_failing_handler_leaves_event_pending_and_a_later_dispatch_delivers_it():
    attempts: list[int] = []

    def flaky(payload: dict) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("search server away")

    services.subscribe(TOPIC, flaky, name="tests.flaky")
    try:
        event = services.publish(topic=TOPIC, payload={})  # eager: first try fails inside
        event.refresh_from_db()
        assert event.delivered_at is None
        assert "search server away" in event.last_error
        assert not OutboxDelivery.objects.filter(event=event).exists()

        assert services.dispatch_pending() == 1

        event.refresh_from_db()
        assert event.delivered_at is not None
        assert len(attempts) == 2
    finally:
        services._subscribers.pop(TOPIC, None)


@pytest.mark.django_db(transaction=True)
def test_one_failing_handler_does_not_rerun_the_one_that_succeeded(received):
    def broken(payload: dict) -> None:
        raise ValueError("boom")

    services.subscribe(TOPIC, broken, name="tests.zz_broken")
    event = services.publish(topic=TOPIC, payload={"n": 4})
    services._subscribers[TOPIC] = [
        h for h in services._subscribers[TOPIC] if h[0] != "tests.zz_broken"
    ]

    services.dispatch_pending()

    assert received == [{"n": 4}]
    event.refresh_from_db()
    assert event.delivered_at is not None


@pytest.mark.django_db(transaction=True)
def test_dispatch_skips_events_enqueued_moments_ago(received, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    event = OutboxEvent.objects.create(topic=TOPIC, payload={})
    from django.utils import timezone

    OutboxEvent.objects.filter(id=event.id).update(enqueued_at=timezone.now())

    assert services.dispatch_pending() == 0
    assert received == []
