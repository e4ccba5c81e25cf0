"""The event log: buffered off the request, written in bulk, private, purged."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError
from django.utils import timezone

from marketplace.analytics import services
from marketplace.analytics.models import Event
from marketplace.outbox.services import subscribers
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db


def test_listing_view_is_buffered_not_written_then_flushed_in_bulk(user_client, user):
    listing = ListingFactory(active=True)

    response = user_client.get(f"/api/listings/{listing.id}")

    assert response.status_code == 200
    assert Event.objects.count() == 0  # the request wrote nothing
    assert services.buffered_count() == 1
    assert services.flush_events() == 1
    event = Event.objects.get()
    assert (event.kind, event.user_id, event.listing_id) == ("listing_viewed", user.pk, listing.id)
    assert services.buffered_count() == 0


def test_seller_viewing_own_listing_is_not_an_event(user_client, user):
    listing = ListingFactory(active=True, seller=user)

    assert user_client.get(f"/api/listings/{listing.id}").status_code == 200

    assert services.buffered_count() == 0


def test_anonymous_visitor_is_a_daily_session_hash_and_no_ip_or_agent_is_stored(api_client):
    listing = ListingFactory(active=True)
    session = api_client.session  # a real stored session, cookie set on the client
    session["seen"] = True
    session.save()
    session_key = session.session_key
    assert api_client.cookies[django_settings.SESSION_COOKIE_NAME].value == session_key

    api_client.get(f"/api/listings/{listing.id}", REMOTE_ADDR="203.0.113.9",
                   HTTP_USER_AGENT="SecretBrowser/1.0")
    services.flush_events()

    event = Event.objects.get()
    assert event.user_id is None
    assert event.visitor == services.visitor_hash(session_key)
    stored = json.dumps([event.visitor, event.props])
    assert session_key not in stored
    assert "203.0.113.9" not in stored and "SecretBrowser" not in stored
    tomorrow = timezone.now().date() + timedelta(days=1)
    assert services.visitor_hash(session_key, day=tomorrow) != event.visitor


def test_request_answers_200_when_redis_is_down_and_event_is_kept(
    user_client, settings, private_redis
):
    listing = ListingFactory(active=True)
    settings.REDIS_URL = private_redis.url
    private_redis.stop()

    response = user_client.get(f"/api/listings/{listing.id}")

    assert response.status_code == 200
    assert len(services._local) == 1  # kept in process until Redis or the flush
    assert services.flush_events() == 1
    assert Event.objects.filter(kind="listing_viewed", listing_id=listing.id).count() == 1


def test_request_answers_200_when_database_write_fails_and_batch_is_retried(
    user_client, monkeypatch
):
    listing = ListingFactory(active=True)

    def broken(*args, **kwargs):  # fault injection: the event table is unwritable
        raise OperationalError("database is down")

    monkeypatch.setattr(Event.objects, "bulk_create", broken)
    assert user_client.get(f"/api/listings/{listing.id}").status_code == 200
    assert services.flush_events() == 0
    assert services.buffered_count() == 1  # put back for the next run

    monkeypatch.undo()
    assert services.flush_events() == 1
    assert Event.objects.filter(listing_id=listing.id).count() == 1


def test_track_never_raises_on_bad_input():
    assert services.track("no_such_kind") is False
    assert services.track("searched", props={"q": object()}) is True  # stringified
    assert services.track("searched", listing_id="not-a-uuid") is True
    assert services.flush_events() == 1  # the malformed listing id is dropped at write


def test_favourite_records_an_event(user_client, user):
    listing = ListingFactory(active=True)

    assert user_client.post(f"/api/listings/{listing.id}/favorite").status_code == 200
    services.flush_events()

    assert Event.objects.filter(kind="favourited", user_id=user.pk, listing_id=listing.id).exists()


def test_chat_offer_and_order_topics_become_events(user, other_user):
    listing = ListingFactory(active=True, seller=other_user)
    base = {"listing_id": str(listing.id), "conversation_id": "c1"}

    def handler(topic: str, name: str):
        return dict(subscribers(topic))[name]

    handler("chat.message_sent", "analytics.chat_started")(
        {**base, "seq": 1, "sender_id": str(user.pk)}
    )
    handler("chat.message_sent", "analytics.chat_started")(
        {**base, "seq": 2, "sender_id": str(user.pk)}  # a later message: no new chat
    )
    handler("chat.offer_made", "analytics.offer_made")(
        {**base, "made_by": str(user.pk), "offer_id": "o1", "amount": {"amount_minor": 1}}
    )
    order = {"listing_id": str(listing.id), "buyer_id": str(user.pk), "order_id": "x"}
    handler("trust.order_paid", "analytics.order_paid")({**order, "status": "paid"})
    handler("trust.order_auto_released", "analytics.order_completed")(
        {**order, "status": "completed"}
    )
    services.flush_events()

    kinds = sorted(Event.objects.filter(user_id=user.pk).values_list("kind", flat=True))
    assert kinds == ["chat_started", "offer_made", "order_completed", "order_paid"]


def test_purge_deletes_only_events_older_than_retention(settings):
    settings.ANALYTICS_RETENTION_DAYS = 30
    now = timezone.now()
    old = Event.objects.create(kind="searched", at=now - timedelta(days=31))
    kept = Event.objects.create(kind="searched", at=now - timedelta(days=29))

    assert services.purge_expired() == 1

    assert list(Event.objects.values_list("id", flat=True)) == [kept.id]
    assert not Event.objects.filter(id=old.id).exists()


def test_search_records_query_text_and_result_count(api_client, search_url, settings):
    from search import indexing
    from tests.search.conftest import index_all, make_listing

    settings.SEARCH_REFRESH_ON_WRITE = True
    indexing.ensure_index()
    make_listing(title="Vintage road bike", category="bikes")
    index_all()

    body = api_client.get("/api/search", {"q": "bike", "lat": 31.2, "lon": 121.4}).json()
    api_client.get("/api/search", {"q": "bike", "page": 2})  # later pages are not new searches
    services.flush_events()

    event = Event.objects.get(kind="searched")
    assert event.props["q"] == "bike"
    assert event.props["results"] == body["total"] == 1
    assert "lat" not in json.dumps(event.props)


def test_a_busy_process_ships_events_to_redis_in_batches(settings):
    settings.ANALYTICS_PUSH_BATCH = 3
    settings.ANALYTICS_PUSH_SECONDS = 60  # only the batch size ships here
    client = services._redis()

    services.track("searched", props={"q": "a"})
    services.track("searched", props={"q": "b"})
    assert client.llen(services._key()) == 0  # waiting in this process, no round trip yet
    assert services.buffered_count() == 2
    services.track("searched", props={"q": "c"})

    assert client.llen(services._key()) == 3  # one RPUSH for the three
    services.track("searched", props={"q": "d"})
    assert services.flush_events() == 4  # the flush takes this process's waiting rows too
    assert sorted(e.props["q"] for e in Event.objects.all()) == ["a", "b", "c", "d"]


def test_a_quiet_process_ships_its_events_within_the_interval(settings):
    import time

    settings.ANALYTICS_PUSH_BATCH = 1000
    settings.ANALYTICS_PUSH_SECONDS = 0.2
    services.track("searched", props={"q": "lamp"})
    client = services._redis()

    deadline = time.monotonic() + 5
    while client.llen(services._key()) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert client.llen(services._key()) == 1
    assert not services._outgoing
