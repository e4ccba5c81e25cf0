"""Following sellers: the API, notifications on new listings, the feed."""

from __future__ import annotations

import pytest

from listings import follows, services
from listings.follows import Follow
from marketplace.notifications.models import Notification
from marketplace.outbox.models import OutboxEvent
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db


def test_follow_is_idempotent_and_listed_in_me_following(user, user_client, other_user):
    first = user_client.post(f"/api/users/{other_user.pk}/follow")
    again = user_client.post(f"/api/users/{other_user.pk}/follow")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == {"user": str(other_user.pk), "following": True}
    assert Follow.objects.filter(follower=user).count() == 1
    body = user_client.get("/api/me/following").json()
    assert [r["id"] for r in body["results"]] == [str(other_user.pk)]
    assert body["next"] is None


def test_unfollow_is_idempotent(user, user_client, other_user):
    Follow.objects.create(follower=user, seller=other_user)

    assert user_client.delete(f"/api/users/{other_user.pk}/follow").status_code == 204
    assert user_client.delete(f"/api/users/{other_user.pk}/follow").status_code == 204
    assert not Follow.objects.exists()


def test_follow_refusals(user, user_client, api_client, other_user):
    assert api_client.post(f"/api/users/{other_user.pk}/follow").status_code == 401
    assert user_client.post(f"/api/users/{user.pk}/follow").status_code == 400
    assert user_client.post("/api/users/not-a-uuid/follow").status_code == 404
    assert user_client.post(f"/api/users/{UserFactory.build().pk}/follow").status_code == 404
    assert api_client.get("/api/me/following").status_code == 401
    assert not Follow.objects.exists()


def test_following_list_is_per_user(user, other_user, other_client):
    Follow.objects.create(follower=user, seller=UserFactory())

    assert other_client.get("/api/me/following").json()["results"] == []


def test_new_listing_notifies_each_follower_once(user, other_user,
                                                 django_capture_on_commit_callbacks):
    fan, other_fan, stranger = UserFactory(), UserFactory(), UserFactory()
    Follow.objects.create(follower=fan, seller=user)
    Follow.objects.create(follower=other_fan, seller=user)
    Follow.objects.create(follower=stranger, seller=other_user)
    draft = ListingFactory(seller=user, title="Leica M6")

    with django_capture_on_commit_callbacks(execute=True):
        services.listing_publish(listing=draft, actor=user)

    notes = Notification.objects.filter(kind="followed_seller_listing")
    assert sorted(n.recipient_id for n in notes) == sorted([fan.pk, other_fan.pk])
    note = notes.get(recipient=fan)
    assert note.payload["listing_id"] == str(draft.id)
    assert note.payload["title"] == "Leica M6"
    assert note.link == f"/items/{draft.id}/"
    # The same event delivered again tells nobody twice.
    event = OutboxEvent.objects.get(topic="listings.listing_published")
    follows.followers_notify_new_listing(payload=event.payload)
    assert Notification.objects.filter(kind="followed_seller_listing").count() == 2


def test_followed_sellers_new_listing_leads_the_feed(user, user_client, other_user, settings):
    settings.FEED_POPULAR_CACHE_SECONDS = 0
    Follow.objects.create(follower=user, seller=other_user)
    ListingFactory(active=True)  # fresh, not followed
    followed = ListingFactory(active=True, seller=other_user)
    ListingFactory(active=True, seller=other_user, status="sold")

    body = user_client.get("/api/feed").json()

    assert body["results"][0]["id"] == str(followed.id)
    assert body["results"][0]["reason"] == "followed"
    assert [r["reason"] for r in body["results"]].count("followed") == 1
