"""The listing lifecycle of DESIGN.md, through the API and the services:
every legal step, every illegal one (409 with the current state, nothing
changed), idempotent repeats and the outbox event of each transition."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from listings import events, services
from listings.models import Listing, ListingStatus
from marketplace.errors import InvalidState, NotAllowed
from marketplace.outbox.models import OutboxEvent
from tests.listings.factories import ListingFactory, category

pytestmark = pytest.mark.django_db

ALL_STATES = [s.value for s in ListingStatus]


def topics() -> list[str]:
    return list(OutboxEvent.objects.order_by("created_at").values_list("topic", flat=True))


def make(state: str, **kwargs) -> Listing:
    """A listing in `state` as the lifecycle would leave it."""
    now = timezone.now()
    extra: dict = {}
    if state in ("active", "reserved", "sold", "expired", "withdrawn"):
        extra = {"published_at": now - timedelta(days=1), "expires_at": now + timedelta(days=59)}
    if state in ("reserved", "sold"):
        extra["reserved_by"] = "order-1"
    if state == "expired":
        extra["expires_at"] = now - timedelta(hours=1)
    return ListingFactory(status=state, **extra, **kwargs)


def snapshot(listing: Listing) -> dict:
    listing.refresh_from_db()
    return {
        f.attname: getattr(listing, f.attname) for f in Listing._meta.concrete_fields
    }


# --- the happy path -------------------------------------------------------------------------------


def test_full_lifecycle_through_api_and_services(user, user_client):
    create = user_client.post("/api/listings", {
        "title": "Giant Escape 3 city bike", "description": "Rides well.", "category": "bikes",
        "condition": "good", "price": {"amount_minor": 80_000, "currency": "CNY"},
        "location": {"lat": 30.27, "lon": 120.15, "city": "Hangzhou"},
        "shipping": {"ships": False, "pickup": True},
        "attributes": {"type": "city", "frame_size": "M", "wheel_size": 28},
    }, format="json")
    assert create.status_code == 201, create.json()
    assert create.json()["status"] == "draft"
    listing_id = create.json()["id"]

    published = user_client.post(f"/api/listings/{listing_id}/publish")
    assert published.status_code == 200
    body = published.json()
    assert body["status"] == "active"
    assert body["published_at"] is not None
    listing = Listing.objects.get(pk=listing_id)
    assert listing.expires_at - listing.published_at == timedelta(days=60)

    services.listing_reserve(listing=listing, order_ref="order-42")
    assert user_client.get(f"/api/listings/{listing_id}").json()["status"] == "reserved"
    services.listing_release_reservation(listing=listing, order_ref="order-42")
    assert Listing.objects.get(pk=listing_id).status == "active"
    services.listing_reserve(listing=listing, order_ref="order-43")
    services.listing_mark_sold(listing=listing, order_ref="order-43")
    assert user_client.get(f"/api/listings/{listing_id}").json()["status"] == "sold"

    assert topics() == [
        events.LISTING_CREATED, events.LISTING_PUBLISHED, events.LISTING_RESERVED,
        events.LISTING_RESERVATION_RELEASED, events.LISTING_RESERVED, events.LISTING_SOLD,
    ]


def test_withdraw_then_relist_gives_a_fresh_expiry(user, user_client):
    listing = make("active", seller=user)
    old_expiry = listing.expires_at

    withdrawn = user_client.post(f"/api/listings/{listing.id}/withdraw")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"

    relisted = user_client.post(f"/api/listings/{listing.id}/relist")
    assert relisted.status_code == 200
    assert relisted.json()["status"] == "active"
    listing.refresh_from_db()
    assert listing.expires_at > old_expiry
    assert listing.published_at > timezone.now() - timedelta(minutes=1)
    assert topics() == [events.LISTING_WITHDRAWN, events.LISTING_RELISTED]


def test_expired_listing_can_be_relisted(user, user_client):
    listing = make("expired", seller=user)

    response = user_client.post(f"/api/listings/{listing.id}/relist")

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    listing.refresh_from_db()
    assert listing.expires_at > timezone.now() + timedelta(days=59)


def test_draft_can_be_withdrawn_and_deleted(user, user_client):
    draft = make("draft", seller=user)
    assert user_client.post(f"/api/listings/{draft.id}/withdraw").json()["status"] == "withdrawn"

    other = make("draft", seller=user)
    assert user_client.delete(f"/api/listings/{other.id}").status_code == 204
    assert not Listing.objects.filter(pk=other.id).exists()
    assert topics()[-1] == events.LISTING_DELETED


def test_only_drafts_can_be_deleted(user, user_client):
    listing = make("active", seller=user)

    response = user_client.delete(f"/api/listings/{listing.id}")

    assert response.status_code == 409
    assert response.json()["state"] == "active"
    assert Listing.objects.filter(pk=listing.id).exists()


# --- publish checks and moderation ----------------------------------------------------------------


def test_no_publish_check_means_active(user, user_client):
    listing = make("draft", seller=user)

    body = user_client.post(f"/api/listings/{listing.id}/publish").json()

    assert body["status"] == "active"
    assert body["fraud_hold"] == {"score": None, "reasons": []}


def test_publish_check_above_threshold_holds_for_review(user, user_client, publish_check, settings):
    settings.FRAUD_HOLD_THRESHOLD = 0.8
    publish_check.score, publish_check.reasons = 0.93, ["price far below category median"]
    listing = make("draft", seller=user)

    body = user_client.post(f"/api/listings/{listing.id}/publish").json()

    assert body["status"] == "pending_review"
    assert body["published_at"] is None
    assert body["fraud_hold"] == {"score": 0.93, "reasons": ["price far below category median"]}
    event = OutboxEvent.objects.get(topic=events.LISTING_HELD)
    assert event.payload["score"] == 0.93
    assert event.payload["listing_id"] == str(listing.id)


def test_publish_check_at_or_below_threshold_publishes(user, publish_check, settings):
    settings.FRAUD_HOLD_THRESHOLD = 0.8
    publish_check.score = 0.8
    listing = make("draft", seller=user)

    listing = services.listing_publish(listing=listing, actor=user)

    assert listing.status == "active"
    assert listing.fraud_score == 0.8


def test_crashing_publish_check_does_not_block_selling(user):
    def broken(listing):
        raise RuntimeError("model file missing")

    services.register_publish_check(broken, name="tests.broken")
    try:
        listing = services.listing_publish(listing=make("draft", seller=user), actor=user)
    finally:
        services.unregister_publish_check("tests.broken")

    assert listing.status == "active"


def test_moderator_approves_held_listing(user, moderator, publish_check):
    publish_check.score = 0.99
    listing = services.listing_publish(listing=make("draft", seller=user), actor=user)
    assert listing.status == "pending_review"

    approved = services.listing_approve(listing=listing, actor=moderator)

    assert approved.status == "active"
    assert approved.published_at is not None
    assert topics()[-1] == events.LISTING_APPROVED


def test_rejected_listing_is_withdrawn_and_cannot_be_relisted(user, user_client, moderator):
    listing = make("pending_review", seller=user)

    services.listing_reject(listing=listing, actor=moderator, reason="counterfeit")

    listing.refresh_from_db()
    assert listing.status == "withdrawn"
    response = user_client.post(f"/api/listings/{listing.id}/relist")
    assert response.status_code == 403
    listing.refresh_from_db()
    assert listing.status == "withdrawn"


def test_only_moderators_approve(user, other_user):
    listing = make("pending_review", seller=user)

    for actor in (user, other_user):
        with pytest.raises(NotAllowed):
            services.listing_approve(listing=listing, actor=actor)
    listing.refresh_from_db()
    assert listing.status == "pending_review"


def test_publish_of_incomplete_listing_is_400_naming_what_is_missing(user, user_client):
    listing = ListingFactory(
        seller=user, category=category("phones"), attributes={"brand": "Apple"},
        location_lat=None, location_lon=None, ships=False, pickup=False,
    )

    response = user_client.post(f"/api/listings/{listing.id}/publish")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "incomplete"
    assert body["attributes"] == ["model: required for this category.",
                                  "storage: required for this category."]
    assert "location" in body and "shipping" in body
    listing.refresh_from_db()
    assert listing.status == "draft"
    assert not OutboxEvent.objects.exists()


# --- illegal transitions --------------------------------------------------------------------------

# action -> states it may start from, and the state it leads to (a repeat there is a no-op)
SELLER_ACTIONS = {
    "publish": ({"draft"}, {"active", "pending_review"}),
    "withdraw": ({"draft", "pending_review", "active"}, {"withdrawn"}),
    "relist": ({"withdrawn", "expired"}, {"active"}),
}

ILLEGAL = [
    (action, state)
    for action, (sources, targets) in SELLER_ACTIONS.items()
    for state in ALL_STATES
    if state not in sources and state not in targets
]


@pytest.mark.parametrize(("action", "state"), ILLEGAL)
def test_illegal_transition_is_409_with_state_and_changes_nothing(user, user_client, action, state):
    listing = make(state, seller=user)
    before = snapshot(listing)

    response = user_client.post(f"/api/listings/{listing.id}/{action}")

    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["state"] == state
    assert body["code"] == "invalid_state"
    assert snapshot(listing) == before
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize(("action", "state"), [
    (action, state) for action, (_, targets) in SELLER_ACTIONS.items() for state in targets
])
def test_repeating_a_transition_is_a_no_op(user, user_client, action, state):
    listing = make(state, seller=user)
    before = snapshot(listing)

    response = user_client.post(f"/api/listings/{listing.id}/{action}")

    assert response.status_code == 200
    assert response.json()["status"] == state
    assert snapshot(listing) == before
    assert not OutboxEvent.objects.exists()


def _expire_later(listing):
    return services.listing_expire(listing=listing, now=timezone.now() + timedelta(days=90))


# action -> (call, states it may start from, the state it leads to)
SYSTEM_ACTIONS = {
    "reserve": (lambda x: services.listing_reserve(listing=x, order_ref="order-1"),
                {"active"}, {"reserved"}),
    "release": (lambda x: services.listing_release_reservation(listing=x, order_ref="order-1"),
                {"reserved"}, {"active"}),
    "mark_sold": (lambda x: services.listing_mark_sold(listing=x, order_ref="order-1"),
                  {"reserved"}, {"sold"}),
    "expire": (_expire_later, {"active"}, {"expired"}),
}


@pytest.mark.parametrize(("action", "state"), [
    (action, state)
    for action, (_, sources, targets) in SYSTEM_ACTIONS.items()
    for state in ALL_STATES
    if state not in sources and state not in targets
])
def test_illegal_system_transition_raises_invalid_state(user, action, state):
    listing = make(state, seller=user)
    before = snapshot(listing)

    with pytest.raises(InvalidState) as error:
        SYSTEM_ACTIONS[action][0](listing)

    assert error.value.state == state
    assert snapshot(listing) == before
    assert not OutboxEvent.objects.exists()


def test_second_order_cannot_reserve_or_sell_a_reserved_listing(user):
    listing = make("active", seller=user)
    services.listing_reserve(listing=listing, order_ref="order-1")

    with pytest.raises(InvalidState) as error:
        services.listing_reserve(listing=listing, order_ref="order-2")
    assert error.value.state == "reserved"
    with pytest.raises(InvalidState):
        services.listing_mark_sold(listing=listing, order_ref="order-2")
    with pytest.raises(InvalidState):
        services.listing_release_reservation(listing=listing, order_ref="order-2")

    listing.refresh_from_db()
    assert (listing.status, listing.reserved_by) == ("reserved", "order-1")


def test_same_order_reserving_twice_is_a_no_op(user):
    listing = make("active", seller=user)
    services.listing_reserve(listing=listing, order_ref="order-1")
    services.listing_reserve(listing=listing, order_ref="order-1")

    assert topics() == [events.LISTING_RESERVED]


def test_active_listing_not_yet_due_does_not_expire(user):
    listing = make("active", seller=user)

    with pytest.raises(InvalidState):
        services.listing_expire(listing=listing)

    listing.refresh_from_db()
    assert listing.status == "active"


def test_reserved_and_sold_listings_cannot_be_edited(user, user_client):
    for state in ("reserved", "sold"):
        listing = make(state, seller=user)
        response = user_client.patch(f"/api/listings/{listing.id}", {"title": "Changed title"},
                                     format="json")
        assert response.status_code == 409
        assert response.json()["state"] == state
        listing.refresh_from_db()
        assert listing.title != "Changed title"


# --- events and transactions ----------------------------------------------------------------------


def test_each_transition_writes_its_event_with_listing_id(user, moderator, publish_check):
    listing = make("draft", seller=user)
    services.listing_publish(listing=listing, actor=user)
    services.listing_withdraw(listing=listing, actor=user)
    services.listing_relist(listing=listing, actor=user)
    services.listing_update(listing=listing, actor=user, title="A better title")
    Listing.objects.filter(pk=listing.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.listing_expire(listing=listing)
    publish_check.score = 0.99
    services.listing_relist(listing=listing, actor=user)
    services.listing_approve(listing=listing, actor=moderator)

    rows = list(OutboxEvent.objects.order_by("created_at"))
    assert [r.topic for r in rows] == [
        events.LISTING_PUBLISHED, events.LISTING_WITHDRAWN, events.LISTING_RELISTED,
        events.LISTING_UPDATED, events.LISTING_EXPIRED, events.LISTING_HELD,
        events.LISTING_APPROVED,
    ]
    assert all(r.payload["listing_id"] == str(listing.id) for r in rows)
    assert [r.payload["status"] for r in rows] == [
        "active", "withdrawn", "active", "active", "expired", "pending_review", "active",
    ]
    assert rows[3].payload["changed"] == ["title"]
    assert rows[0].payload["previous_status"] == "draft"
    assert rows[0].payload["category"] == "other"


def test_rolled_back_transition_leaves_no_event_and_no_change(user):
    listing = make("draft", seller=user)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.listing_publish(listing=listing, actor=user)
        raise RuntimeError("the surrounding request failed")

    listing.refresh_from_db()
    assert listing.status == "draft"
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_events_are_handed_over_only_after_commit(user, monkeypatch):
    handed: list = []
    monkeypatch.setattr("marketplace.outbox.services.enqueue_many",
                        lambda *, event_ids, **_: handed.extend(event_ids))
    listing = make("draft", seller=user)

    with transaction.atomic():
        services.listing_publish(listing=listing, actor=user)
        assert handed == []

    assert handed == [str(OutboxEvent.objects.get(topic=events.LISTING_PUBLISHED).id)]


def test_trust_can_hold_an_active_listing_later(user):
    listing = make("active", seller=user)

    held = services.listing_hold(listing=listing, score=0.97, reasons=["asks to pay outside"])
    again = services.listing_hold(listing=listing, score=0.99, reasons=[])

    assert held.status == again.status == "pending_review"
    assert again.fraud_score == 0.97  # the repeat changed nothing
    assert topics() == [events.LISTING_HELD]


def test_moderator_can_take_down_an_active_listing(user, moderator, api_client):
    listing = make("active", seller=user)

    services.listing_reject(listing=listing, actor=moderator, reason="stolen goods")

    assert api_client.get(f"/api/listings/{listing.id}").status_code == 404
    event = OutboxEvent.objects.get(topic=events.LISTING_REJECTED)
    assert event.payload["reason"] == "stolen goods"
    assert event.payload["actor_id"] == str(moderator.id)
