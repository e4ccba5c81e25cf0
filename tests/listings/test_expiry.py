"""The scheduled expiry task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from listings import events
from listings.models import Listing
from listings.tasks import expire_listings
from marketplace.outbox.models import OutboxEvent
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db


def test_beat_schedule_names_the_task():
    entry = settings.CELERY_BEAT_SCHEDULE["listings-expire-stale"]
    assert entry["task"] == expire_listings.name == "listings.tasks.expire_listings"


def test_expiry_task_expires_only_active_listings_past_their_date():
    now = timezone.now()
    due = [ListingFactory(status="active", published_at=now - timedelta(days=61),
                          expires_at=now - timedelta(minutes=m)) for m in (1, 60 * 24)]
    not_yet = ListingFactory(status="active", published_at=now,
                             expires_at=now + timedelta(minutes=5))
    reserved_past = ListingFactory(status="reserved", reserved_by="o-1",
                                   expires_at=now - timedelta(days=1))
    draft = ListingFactory(status="draft")

    assert expire_listings.delay().get() == 2

    statuses = dict(Listing.objects.values_list("id", "status"))
    assert [statuses[listing.id] for listing in due] == ["expired", "expired"]
    assert statuses[not_yet.id] == "active"
    assert statuses[reserved_past.id] == "reserved"
    assert statuses[draft.id] == "draft"
    emitted = OutboxEvent.objects.filter(topic=events.LISTING_EXPIRED)
    assert sorted(e.payload["listing_id"] for e in emitted) == sorted(str(d.id) for d in due)
    assert all(e.payload["previous_status"] == "active" for e in emitted)


def test_expiry_task_is_idempotent():
    ListingFactory(status="active", expires_at=timezone.now() - timedelta(hours=1))

    assert expire_listings() == 1
    assert expire_listings() == 0
    assert OutboxEvent.objects.filter(topic=events.LISTING_EXPIRED).count() == 1


def test_expiry_period_comes_from_settings(user, settings):
    from listings import services

    settings.LISTING_EXPIRY_DAYS = 7
    listing = services.listing_publish(listing=ListingFactory(seller=user), actor=user)

    assert listing.expires_at - listing.published_at == timedelta(days=7)


def test_released_reservation_after_the_expiry_date_gets_a_fresh_period():
    from listings import services

    listing = ListingFactory(status="reserved", reserved_by="o-1",
                             expires_at=timezone.now() - timedelta(days=1))

    services.listing_release_reservation(listing=listing, order_ref="o-1")

    listing.refresh_from_db()
    assert listing.status == "active"
    assert listing.expires_at > timezone.now() + timedelta(days=59)
    assert expire_listings() == 0


def test_expiry_task_handles_more_than_one_batch():
    from listings import services

    past = timezone.now() - timedelta(hours=1)
    ListingFactory.create_batch(7, status="active", expires_at=past)

    assert services.listings_expire_due(batch_size=3) == 7
    assert not Listing.objects.filter(status="active").exists()
