"""Favourites, GET /api/me/favorites and the price-drop notification."""

from __future__ import annotations

import pytest

from listings import events, services
from listings.models import Favourite, Listing
from marketplace.notifications import services as notification_services
from marketplace.notifications.models import Notification
from marketplace.outbox.models import OutboxEvent
from tests.factories import UserFactory
from tests.listings.factories import FavouriteFactory, ListingFactory

pytestmark = pytest.mark.django_db


# --- favourites -----------------------------------------------------------------------------------


def test_favourite_is_idempotent_and_counted(other_user, other_client):
    listing = ListingFactory(active=True)
    url = f"/api/listings/{listing.id}/favorite"

    first = other_client.post(url)
    second = other_client.post(url)

    assert first.status_code == second.status_code == 200
    assert second.json()["is_favorite"] is True
    assert second.json()["favorites_count"] == 1
    assert Favourite.objects.filter(user=other_user, listing=listing).count() == 1


def test_unfavourite_is_idempotent(other_user, other_client):
    listing = ListingFactory(active=True)
    url = f"/api/listings/{listing.id}/favorite"
    other_client.post(url)

    first = other_client.delete(url)
    second = other_client.delete(url)

    assert first.status_code == second.status_code == 200
    assert second.json()["is_favorite"] is False
    assert second.json()["favorites_count"] == 0
    listing.refresh_from_db()
    assert listing.favorites_count == 0


def test_favouriting_your_own_listing_is_400(user, user_client):
    listing = ListingFactory(seller=user, active=True)

    response = user_client.post(f"/api/listings/{listing.id}/favorite")

    assert response.status_code == 400
    assert response.json()["listing"] == ["You cannot favourite your own listing."]
    assert not Favourite.objects.exists()


def test_moderator_cannot_favourite_a_draft(moderator_client):
    draft = ListingFactory(status="draft")

    response = moderator_client.post(f"/api/listings/{draft.id}/favorite")

    assert response.status_code == 409
    assert response.json()["state"] == "draft"


def test_favourite_of_a_listing_that_went_private_can_still_be_removed(other_user, other_client):
    favourite = FavouriteFactory(user=other_user)
    Listing.objects.filter(pk=favourite.listing_id).update(status="withdrawn")

    response = other_client.delete(f"/api/listings/{favourite.listing_id}/favorite")

    assert response.status_code == 204
    assert not Favourite.objects.exists()
    again = other_client.delete(f"/api/listings/{favourite.listing_id}/favorite")
    assert again.status_code == 404


def test_my_favorites_lists_visible_favourites_newest_first(user, user_client):
    first = FavouriteFactory(user=user).listing
    second = FavouriteFactory(user=user).listing
    gone = FavouriteFactory(user=user).listing
    Listing.objects.filter(pk=gone.pk).update(status="withdrawn")
    FavouriteFactory(listing=first)  # someone else's favourite of the same listing
    ListingFactory(active=True)

    body = user_client.get("/api/me/favorites").json()

    assert [r["id"] for r in body["results"]] == [str(second.id), str(first.id)]
    assert body["count"] == 2
    assert all(r["is_favorite"] for r in body["results"])
    assert "thumbnail_url" in body["results"][0]


def test_is_favorite_is_per_caller(user, other_user, other_client, user_client, api_client):
    listing = ListingFactory(active=True)
    FavouriteFactory(user=other_user, listing=listing)

    assert other_client.get(f"/api/listings/{listing.id}").json()["is_favorite"] is True
    assert user_client.get(f"/api/listings/{listing.id}").json()["is_favorite"] is False
    assert api_client.get(f"/api/listings/{listing.id}").json()["is_favorite"] is False
    listed = other_client.get("/api/listings").json()["results"]
    assert listed[0]["is_favorite"] is True


# --- price drops ----------------------------------------------------------------------------------


@pytest.fixture
def watched(user):
    """An active listing at 500.00 CNY that two people favourited."""
    listing = ListingFactory(seller=user, active=True, price_minor=50_000, title="Sony A7 III")
    fans = [UserFactory(), UserFactory()]
    for fan in fans:
        services.favourite_add(listing=listing, user=fan)
    return listing, fans


def patch_price(client, listing, amount_minor: int):
    return client.patch(f"/api/listings/{listing.id}",
                        {"price": {"amount_minor": amount_minor, "currency": "CNY"}},
                        format="json")


def test_price_drop_notifies_each_favouriter_once(user_client, watched,
                                                  django_capture_on_commit_callbacks):
    listing, fans = watched

    with django_capture_on_commit_callbacks(execute=True):
        response = patch_price(user_client, listing, 42_000)

    assert response.status_code == 200
    event = OutboxEvent.objects.get(topic=events.PRICE_DROPPED)
    assert event.payload["old_price"] == {"amount_minor": 50_000, "currency": "CNY"}
    assert event.payload["new_price"] == {"amount_minor": 42_000, "currency": "CNY"}
    assert event.delivered_at is not None  # handed over after commit and handled
    notes = Notification.objects.filter(kind="price_drop").order_by("recipient_id")
    assert sorted(n.recipient_id for n in notes) == sorted(f.id for f in fans)
    note = notes[0]
    assert note.payload == {
        "listing_id": str(listing.id), "title": "Sony A7 III",
        "old_price": {"amount_minor": 50_000, "currency": "CNY"},
        "new_price": {"amount_minor": 42_000, "currency": "CNY"},
    }
    assert note.link == f"/items/{listing.id}/"
    assert note.read_at is None


def test_price_rise_notifies_nobody(user_client, watched, django_capture_on_commit_callbacks):
    listing, _ = watched

    with django_capture_on_commit_callbacks(execute=True):
        patch_price(user_client, listing, 60_000)

    assert not OutboxEvent.objects.filter(topic=events.PRICE_DROPPED).exists()
    assert not Notification.objects.exists()


def test_same_drop_delivered_twice_notifies_once(user_client, watched,
                                                 django_capture_on_commit_callbacks):
    from marketplace.outbox.services import deliver

    listing, fans = watched
    with django_capture_on_commit_callbacks(execute=True):
        patch_price(user_client, listing, 42_000)
    event = OutboxEvent.objects.get(topic=events.PRICE_DROPPED)

    # Redelivered (the broker lost the ack), and the handler called directly.
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None)
    deliver(event_id=event.id)
    services.price_drop_notify(payload=event.payload)

    assert Notification.objects.count() == len(fans)


def test_dropping_to_the_same_price_again_does_not_renotify(user_client, watched,
                                                            django_capture_on_commit_callbacks):
    listing, fans = watched
    with django_capture_on_commit_callbacks(execute=True):
        patch_price(user_client, listing, 42_000)
        patch_price(user_client, listing, 45_000)
        patch_price(user_client, listing, 42_000)
        patch_price(user_client, listing, 40_000)

    per_fan = Notification.objects.filter(recipient=fans[0]).order_by("created_at")
    assert [n.payload["new_price"]["amount_minor"] for n in per_fan] == [42_000, 40_000]


def test_price_drop_on_a_draft_notifies_nobody(user, user_client,
                                               django_capture_on_commit_callbacks):
    draft = ListingFactory(seller=user, price_minor=50_000)

    with django_capture_on_commit_callbacks(execute=True):
        patch_price(user_client, draft, 10_000)

    assert not OutboxEvent.objects.filter(topic=events.PRICE_DROPPED).exists()


def test_stale_price_drop_is_not_announced(watched):
    listing, _ = watched
    stale = {"listing_id": str(listing.id), "title": listing.title,
             "old_price": {"amount_minor": 60_000, "currency": "CNY"},
             "new_price": {"amount_minor": 40_000, "currency": "CNY"}}  # now 500.00 again

    assert services.price_drop_notify(payload=stale) == 0
    assert not Notification.objects.exists()


def test_notify_without_dedupe_key_always_writes(user):
    notification_services.notify(recipient=user, kind="hello", payload={})
    notification_services.notify(recipient=user, kind="hello", payload={})

    assert Notification.objects.filter(recipient=user).count() == 2
    assert notification_services.notifications_mark_read(recipient=user) == 2


def test_notify_with_the_same_dedupe_key_returns_the_first(user):
    first = notification_services.notify(recipient=user, kind="k", payload={}, dedupe_key="x")
    again = notification_services.notify(recipient=user, kind="k", payload={"n": 2},
                                         dedupe_key="x")

    assert again.pk == first.pk
    assert Notification.objects.count() == 1


def test_notify_losing_a_race_on_the_dedupe_key_returns_the_winner(user, monkeypatch):
    winner = Notification.objects.create(recipient=user, kind="k", payload={}, dedupe_key="y")
    real_filter = Notification.objects.filter
    calls = iter([Notification.objects.none()])

    def filter_missing_first(*args, **kwargs):  # the pre-check does not see the winner yet
        return next(calls, None) or real_filter(*args, **kwargs)

    monkeypatch.setattr(Notification.objects, "filter", filter_missing_first)
    result = notification_services.notify(recipient=user, kind="k", payload={}, dedupe_key="y")

    assert result.pk == winner.pk
    assert Notification.objects.count() == 1
