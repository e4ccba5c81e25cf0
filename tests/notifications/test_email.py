"""E-mail delivery: preferences, idempotence, retries through a mail outage,
burst suppression, digests, languages."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from marketplace.notifications import services, tasks
from marketplace.notifications.models import DeliveryStatus, EmailDelivery, Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _notify(recipient, kind="price_drop", **kwargs):
    payload = kwargs.pop(
        "payload",
        {
            "title": "Vintage road bike",
            "old_price": {"amount_minor": 100_000, "currency": "CNY"},
            "new_price": {"amount_minor": 80_000, "currency": "CNY"},
        },
    )
    return services.notify(recipient=recipient, kind=kind, payload=payload, link="/x/", **kwargs)


def test_immediate_kind_sends_one_email_after_commit(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification = _notify(alice)
    assert mail.outbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert "Vintage road bike" in message.subject
    assert "¥800.00" in message.body
    assert "/notifications/unsubscribe/" in message.body
    assert message.extra_headers["List-Unsubscribe"].startswith("<http://")
    html = message.alternatives[0][0]
    assert "/notifications/unsubscribe/" in html
    delivery = EmailDelivery.objects.get(key=f"notification:{notification.pk}")
    assert delivery.status == DeliveryStatus.SENT and delivery.sent_at is not None


def test_running_the_task_again_sends_nothing_more(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(alice)
    delivery = EmailDelivery.objects.get(notifications=notification)

    assert tasks.send_email_delivery.apply(args=[str(delivery.pk)]).get() == "sent"
    assert len(mail.outbox) == 1


def test_dedupe_key_repeat_neither_stores_nor_mails_again(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = _notify(alice, dedupe_key="k1")
        second = _notify(alice, dedupe_key="k1")
    assert first.pk == second.pk
    assert Notification.objects.filter(recipient=alice).count() == 1
    assert len(mail.outbox) == 1


def test_never_preference_sends_no_email_but_keeps_the_notification(
    alice, django_capture_on_commit_callbacks
):
    services.preferences_update(user=alice, changes={"price_drop": "never"})
    with django_capture_on_commit_callbacks(execute=True):
        _notify(alice)
    assert mail.outbox == []
    assert Notification.objects.filter(recipient=alice, kind="price_drop").count() == 1
    assert not EmailDelivery.objects.exists()


def test_preference_changed_to_never_before_the_task_runs_skips_the_email(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification = _notify(alice)
    services.preferences_update(user=alice, changes={"price_drop": "never"})
    for callback in callbacks:
        callback()
    assert mail.outbox == []
    assert EmailDelivery.objects.get(notifications=notification).status == DeliveryStatus.SKIPPED


def test_mail_outage_twice_then_recovery_sends_exactly_once(
    alice, flaky_mail, django_capture_on_commit_callbacks
):
    flaky_mail.fail_next(2)
    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(alice)

    assert flaky_mail.attempts == 3
    assert len(mail.outbox) == 1
    delivery = EmailDelivery.objects.get(notifications=notification)
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 3  # two failed attempts recorded, then the send
    # A late duplicate of the task (e.g. redelivered by the broker) sends nothing.
    tasks.send_email_delivery.apply(args=[str(delivery.pk)])
    assert len(mail.outbox) == 1 and flaky_mail.attempts == 3


def test_outage_longer_than_the_retries_gives_up_without_sending(
    alice, flaky_mail, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_EMAIL_MAX_RETRIES = 2
    flaky_mail.fail_next(10)
    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(alice)

    assert flaky_mail.attempts == 3  # the first try and two retries
    assert mail.outbox == []
    delivery = EmailDelivery.objects.get(notifications=notification)
    assert delivery.status == DeliveryStatus.FAILED
    assert "SMTPServerDisconnected" in delivery.last_error


def test_retry_backoff_grows_exponentially(settings):
    settings.NOTIFICATIONS_EMAIL_RETRY_BACKOFF = 10.0
    delays = [tasks.retry_delay(n) for n in range(4)]
    for n, delay in enumerate(delays):
        assert 10.0 * 2**n * 0.8 <= delay <= 10.0 * 2**n * 1.2
    assert tasks.retry_delay(30) <= 3600 * 1.2


def test_burst_of_thirty_in_one_group_gives_one_email(
    alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(30):
            services.notify(
                recipient=alice,
                kind="chat_message",
                payload={"listing_title": f"Bike {i}", "group": "conversation:c1"},
            )
        # another conversation is another group: its own e-mail
        services.notify(
            recipient=alice,
            kind="chat_message",
            payload={"listing_title": "Lamp", "group": "conversation:c2"},
        )
        # the same group for another recipient is theirs
        services.notify(
            recipient=bob,
            kind="chat_message",
            payload={"listing_title": "Bike", "group": "conversation:c1"},
        )

    assert Notification.objects.filter(recipient=alice).count() == 31  # all kept in-app
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email] * 2 + [bob.email])
    statuses = list(EmailDelivery.objects.filter(recipient=alice).values_list("status", flat=True))
    assert statuses.count(DeliveryStatus.SENT) == 2
    assert statuses.count(DeliveryStatus.SUPPRESSED) == 29


def test_chat_kind_groups_by_conversation_without_an_explicit_group(alice):
    notification = services.notify(
        recipient=alice,
        kind="chat_message",
        payload={"conversation_id": "abc", "listing_title": "Bike"},
    )
    assert notification.group == "conversation:abc"


def test_group_sends_again_after_the_window(alice, settings, django_capture_on_commit_callbacks):
    settings.NOTIFICATIONS_EMAIL_GROUP_WINDOW = 60
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = services.notify(recipient=alice, kind="chat_message", payload={"group": "g"})
        second = services.notify(recipient=alice, kind="chat_message", payload={"group": "g"})
    first_delivery = EmailDelivery.objects.get(notifications=first)
    second_delivery = EmailDelivery.objects.get(notifications=second)
    now = timezone.now()
    services.email_delivery_send(delivery_id=first_delivery.pk, now=now)
    status = services.email_delivery_send(
        delivery_id=second_delivery.pk, now=now + timedelta(seconds=61)
    )
    assert status == DeliveryStatus.SENT
    assert len(mail.outbox) == 2
    assert len(callbacks) == 2


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_of_one_delivery_send_once(alice):
    if connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL row locks")
    services.preferences_update(user=alice, changes={"price_drop": "daily"})
    notification = _notify(alice)
    delivery = EmailDelivery.objects.create(
        key=f"notification-race:{notification.pk}", recipient=alice, kind=EmailDelivery.SINGLE
    )
    delivery.notifications.add(notification)
    services.preferences_update(user=alice, changes={"price_drop": "immediately"})
    barrier = threading.Barrier(4)
    results: list[str] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(services.email_delivery_send(delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Each run reports the delivery's state ("sent"); only the first sent mail.
    assert results == ["sent"] * 4
    assert len(mail.outbox) == 1


def test_email_in_the_users_language(django_capture_on_commit_callbacks):
    wang = UserFactory(username="wang", display_name="王芳", languages=["zh-CN", "en"])
    with django_capture_on_commit_callbacks(execute=True):
        _notify(wang)
    message = mail.outbox[0]
    assert message.subject.startswith("[二手市场] 收藏商品降价")
    assert "王芳，您好" in message.body
    assert "已从 ¥1,000.00 降价到 ¥800.00" in message.body
    assert "退订" in message.alternatives[0][0]


def test_user_without_languages_gets_the_site_language(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _notify(alice)
    assert mail.outbox[0].subject.startswith("[Marketplace] Price drops on favourites")
    assert "Hello Alice," in mail.outbox[0].body


# --- digest --------------------------------------------------------------------------------


def test_daily_digest_groups_unread_notifications_of_daily_kinds(
    alice, bob, django_capture_on_commit_callbacks
):
    services.preferences_update(user=alice, changes={"price_drop": "daily"})
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            services.notify(
                recipient=alice,
                kind="saved_search_match",  # daily by default
                payload={"name": "bikes", "title": f"Bike {i}", "saved_search_id": "s1"},
                link=f"/listings/{i}/",
            )
        _notify(alice)  # price drop, daily by her choice
        read = services.notify(recipient=alice, kind="reviews_revealed", payload={})
        services.notify(recipient=bob, kind="reviews_revealed", payload={"order_id": "o"})
    services.notifications_mark_read(recipient=alice, notification_ids=[read.pk])
    assert mail.outbox == []  # nothing immediate

    with django_capture_on_commit_callbacks(execute=True):
        planned = tasks.send_daily_digests.apply().get()

    assert planned == 2
    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert set(by_recipient) == {alice.email, bob.email}
    digest = by_recipient[alice.email]
    assert "4 new notifications" in digest.subject
    assert "Saved-search alerts (3)" in digest.body
    assert "Price drops on favourites (1)" in digest.body
    assert "Revealed reviews" not in digest.body  # read ones are left out
    assert "http://127.0.0.1:8000/listings/2/" in digest.body
    assert "/notifications/unsubscribe/" in digest.body


def test_digest_is_not_sent_again_for_the_same_notifications(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipient=alice, kind="saved_search_match", payload={"title": "A"})
        tasks.send_daily_digests.apply()
        tasks.send_daily_digests.apply()  # same day again
    assert len(mail.outbox) == 1

    tomorrow = timezone.now() + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.digests_plan(now=tomorrow) == []  # nothing new since
        services.notify(recipient=alice, kind="saved_search_match", payload={"title": "B"})
        assert len(services.digests_plan(now=tomorrow)) == 1
    assert len(mail.outbox) == 2
    assert "B" in mail.outbox[1].body and "“A”" not in mail.outbox[1].body


def test_immediately_mailed_notifications_stay_out_of_the_digest(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _notify(alice)  # immediate by default
        tasks.send_daily_digests.apply()
    assert len(mail.outbox) == 1
    assert "digest" not in mail.outbox[0].subject


def test_stale_pending_email_is_handed_over_again(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        notification = _notify(alice)  # after-commit hand-over never runs: "broker down"
    delivery = EmailDelivery.objects.get(notifications=notification)
    assert services.email_sweep_stale() == 0  # too fresh
    later = timezone.now() + timedelta(minutes=11)
    assert services.email_sweep_stale(now=later) == 1
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT


def test_notification_read_before_the_email_went_out_is_not_mailed(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification = _notify(alice)
    services.notifications_mark_read(recipient=alice, notification_ids=[notification.pk])
    for callback in callbacks:
        callback()
    assert mail.outbox == []
    assert EmailDelivery.objects.get(notifications=notification).status == DeliveryStatus.SKIPPED


def test_channel_layer_outage_does_not_fail_notify(
    alice, settings, caplog, django_capture_on_commit_callbacks
):
    from tests.conftest import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": dead, "socket_connect_timeout": 0.5}]},
        }
    }
    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(alice)
    assert Notification.objects.filter(pk=notification.pk).exists()
    assert len(mail.outbox) == 1  # the e-mail still goes out
    assert "live push" in caplog.text  # the push was tried and failed


def test_beat_schedules_the_digest_and_the_sweep_with_registered_tasks(settings):
    from celery.schedules import crontab

    from marketplace.celery import app

    app.loader.import_default_modules()  # what a worker does at start (autodiscovery)
    digest = settings.CELERY_BEAT_SCHEDULE["notifications-daily-digest"]
    assert isinstance(digest["schedule"], crontab)
    assert digest["schedule"].hour == {settings.NOTIFICATIONS_DIGEST_HOUR}
    sweep = settings.CELERY_BEAT_SCHEDULE["notifications-sweep-stale-emails"]
    for entry in (digest, sweep):
        assert entry["task"] in app.tasks
