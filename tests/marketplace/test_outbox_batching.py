"""The outbox hands every event of one transaction to the broker in one call,
and a write can ride in the same statement as its event."""

from __future__ import annotations

import pytest
from django.db import transaction

from marketplace.outbox import services, tasks
from marketplace.outbox.models import OutboxEvent

TOPIC = "tests.batched"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(settings, monkeypatch):
    """A real (non-eager) hand-over whose broker calls are recorded."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls: list[list[str]] = []
    monkeypatch.setattr(tasks.deliver_events, "apply_async",
                        lambda *, args, **_: calls.append(list(args[0])))
    monkeypatch.setattr(tasks.deliver_event, "apply_async",
                        lambda *, args, **_: calls.append([args[0]]))
    return calls


def test_events_of_one_transaction_go_to_the_broker_in_one_call(broker):
    with transaction.atomic():
        events = [services.publish(topic=TOPIC, payload={"n": n}) for n in range(3)]
        assert broker == []  # nothing leaves before commit

    assert broker == [[str(event.id) for event in events]]
    # Written already marked as handed over: no UPDATE after commit.
    assert OutboxEvent.objects.filter(topic=TOPIC, enqueued_at__isnull=True).count() == 0


def test_each_transaction_gets_its_own_broker_call(broker):
    with transaction.atomic():
        first = services.publish(topic=TOPIC, payload={})
    with transaction.atomic():
        second = services.publish(topic=TOPIC, payload={})
        third = services.publish(topic=TOPIC, payload={})

    assert broker == [[str(first.id)], [str(second.id), str(third.id)]]


def test_an_event_after_a_rolled_back_savepoint_is_still_handed_over(broker):
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            services.publish(topic=TOPIC, payload={"n": "rolled back"})
            raise RuntimeError("the inner write failed")
        kept = services.publish(topic=TOPIC, payload={"n": "kept"})

    assert broker == [[str(kept.id)]]
    assert list(OutboxEvent.objects.filter(topic=TOPIC).values_list("payload", flat=True)) == [
        {"n": "kept"}
    ]


def test_an_event_published_in_a_rolled_back_savepoint_is_never_handed_over(broker):
    with transaction.atomic():
        before = services.publish(topic=TOPIC, payload={})
        with pytest.raises(RuntimeError), transaction.atomic():
            gone = services.publish(topic=TOPIC, payload={})
            raise RuntimeError("the inner write failed")

    # The savepoint's batch went with it; the outer block's event still goes.
    assert broker == [[str(before.id)]]
    assert not OutboxEvent.objects.filter(id=gone.id).exists()


def test_a_broker_outage_leaves_every_event_of_the_transaction_for_the_dispatcher(
    settings, monkeypatch
):
    settings.CELERY_TASK_ALWAYS_EAGER = False

    def broker_down(**_):
        raise ConnectionError("Redis is away")

    monkeypatch.setattr(tasks.deliver_events, "apply_async", broker_down)
    with transaction.atomic():
        services.publish(topic=TOPIC, payload={"n": 1})
        services.publish(topic=TOPIC, payload={"n": 2})

    pending = OutboxEvent.objects.filter(topic=TOPIC)
    assert [(e.enqueued_at, e.delivered_at) for e in pending] == [(None, None), (None, None)]
    assert all("Redis is away" in e.last_error for e in pending)

    handed: list[list[str]] = []
    monkeypatch.setattr(tasks.deliver_events, "apply_async",
                        lambda *, args, **_: handed.append(list(args[0])))
    assert services.dispatch_pending() == 2
    assert handed == [[str(e.id) for e in pending]]


def test_a_write_rides_in_the_same_statement_as_its_event(broker, django_assert_num_queries):
    earlier = services.publish(topic=TOPIC, payload={})

    with django_assert_num_queries(1):
        services.publish(
            topic=TOPIC,
            payload={"n": 2},
            with_writes=[("UPDATE outbox_outboxevent SET attempts = %s WHERE id = %s",
                          [7, earlier.id])],
        )

    earlier.refresh_from_db()
    assert earlier.attempts == 7
    assert OutboxEvent.objects.filter(topic=TOPIC).count() == 2


def test_a_rolled_back_transaction_takes_the_write_and_its_event(broker):
    earlier = services.publish(topic=TOPIC, payload={})

    with pytest.raises(RuntimeError), transaction.atomic():
        services.publish(
            topic=TOPIC,
            payload={},
            with_writes=[("UPDATE outbox_outboxevent SET attempts = %s WHERE id = %s",
                          [7, earlier.id])],
        )
        raise RuntimeError("later in the request")

    earlier.refresh_from_db()
    assert earlier.attempts == 0
    assert OutboxEvent.objects.filter(topic=TOPIC).count() == 1
    assert broker == [[str(earlier.id)]]


def test_events_of_a_committed_savepoint_go_out_when_the_transaction_commits(broker):
    with transaction.atomic():
        outer = services.publish(topic=TOPIC, payload={})
        with transaction.atomic():
            inner = services.publish(topic=TOPIC, payload={})
        assert broker == []

    assert sorted(broker) == sorted([[str(outer.id)], [str(inner.id)]])


def test_blocks_without_a_savepoint_share_their_transaction_s_call(broker):
    with transaction.atomic():
        first = services.publish(topic=TOPIC, payload={})
        with transaction.atomic(savepoint=False):
            second = services.publish(topic=TOPIC, payload={})
        third = services.publish(topic=TOPIC, payload={})

    assert broker == [[str(first.id), str(second.id), str(third.id)]]
