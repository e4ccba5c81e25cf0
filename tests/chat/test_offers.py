"""Offers: make, counter, accept, decline, withdraw, expire; the rules and the race."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from chat import services
from chat.models import Offer
from listings.models import Listing
from marketplace.errors import InvalidState, NotAllowed
from marketplace.outbox.models import OutboxEvent
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.factories import FavouriteFactory

pytestmark = pytest.mark.django_db


def make_offer(buyer, conversation, amount=80_000):
    response = client_for(buyer).post(
        f"/api/conversations/{conversation.id}/offers", {"amount_minor": amount}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_buyer_offers_and_seller_accepts_which_reserves_the_listing(
    buyer, seller, conversation, listing
):
    offer = make_offer(buyer, conversation, 80_000)
    assert offer["amount"] == {"amount_minor": 80_000, "currency": "CNY"}
    assert offer["status"] == "offered"

    accepted = client_for(seller).post(f"/api/offers/{offer['id']}/accept")

    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    listing.refresh_from_db()
    assert listing.status == "reserved"
    assert listing.reserved_by == f"offer:{offer['id']}"
    event = OutboxEvent.objects.get(topic="chat.offer_accepted")
    assert event.payload["amount"] == {"amount_minor": 80_000, "currency": "CNY"}
    kinds = [m.data.get("action") for m in conversation.messages.order_by("seq")]
    assert kinds == ["offer", "accept"]


def test_counter_voids_the_earlier_offer_and_the_buyer_can_accept_it(buyer, seller, conversation):
    offer = make_offer(buyer, conversation, 70_000)

    counter = client_for(seller).post(
        f"/api/offers/{offer['id']}/counter", {"amount_minor": 90_000}, format="json"
    )

    assert counter.status_code == 201
    assert Offer.objects.get(id=offer["id"]).status == "countered"
    assert counter.json()["replaces"] == offer["id"]
    assert client_for(seller).post(f"/api/offers/{counter.json()['id']}/accept").status_code == 403
    assert client_for(buyer).post(f"/api/offers/{counter.json()['id']}/accept").status_code == 200


def test_only_the_other_side_accepts(buyer, conversation):
    offer = make_offer(buyer, conversation)

    response = client_for(buyer).post(f"/api/offers/{offer['id']}/accept")

    assert response.status_code == 403
    assert Offer.objects.get(id=offer["id"]).status == "offered"


def test_only_the_buyer_makes_offers(seller, conversation):
    response = client_for(seller).post(
        f"/api/conversations/{conversation.id}/offers", {"amount_minor": 50_000}, format="json"
    )

    assert response.status_code == 403
    assert Offer.objects.count() == 0


def test_one_open_offer_per_conversation(buyer, conversation):
    make_offer(buyer, conversation)

    response = client_for(buyer).post(
        f"/api/conversations/{conversation.id}/offers", {"amount_minor": 60_000}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["state"] == "offer_open"


def test_offer_cap_per_buyer_per_listing(buyer, conversation, settings):
    settings.CHAT_MAX_OFFERS_PER_LISTING = 2
    for amount in (50_000, 60_000):
        offer = make_offer(buyer, conversation, amount)
        client_for(buyer).post(f"/api/offers/{offer['id']}/withdraw")

    response = client_for(buyer).post(
        f"/api/conversations/{conversation.id}/offers", {"amount_minor": 70_000}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["state"] == "offer_limit"


@pytest.mark.parametrize("amount", [0, -5, 100_001, "lots", 1.5, None])
def test_bad_amounts_are_400(buyer, conversation, amount):
    response = client_for(buyer).post(
        f"/api/conversations/{conversation.id}/offers", {"amount_minor": amount}, format="json"
    )

    assert response.status_code == 400
    assert Offer.objects.count() == 0


def test_no_offers_on_a_fixed_price_listing(buyer, conversation, listing):
    Listing.objects.filter(id=listing.id).update(negotiable=False)

    response = client_for(buyer).post(
        f"/api/conversations/{conversation.id}/offers", {"amount_minor": 90_000}, format="json"
    )

    assert response.status_code == 409


def test_decline_and_withdraw(buyer, seller, conversation):
    first = make_offer(buyer, conversation)
    assert (
        client_for(seller).post(f"/api/offers/{first['id']}/decline").json()["status"] == "declined"
    )
    second = make_offer(buyer, conversation, 85_000)
    assert client_for(seller).post(f"/api/offers/{second['id']}/withdraw").status_code == 403
    assert (
        client_for(buyer).post(f"/api/offers/{second['id']}/withdraw").json()["status"]
        == "withdrawn"
    )
    assert client_for(seller).post(f"/api/offers/{second['id']}/accept").status_code == 409


def test_expired_offer_cannot_be_accepted_and_the_task_expires_it(buyer, seller, conversation):
    offer = make_offer(buyer, conversation)
    Offer.objects.filter(id=offer["id"]).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert services.offers_expire_due() == 1
    assert services.offers_expire_due() == 0
    assert Offer.objects.get(id=offer["id"]).status == "expired"
    response = client_for(seller).post(f"/api/offers/{offer['id']}/accept")
    assert response.status_code == 409
    assert response.json()["state"] == "expired"


def test_accepting_one_buyer_declines_the_other_buyers_open_offers(listing, seller, buyer):
    other = UserFactory()
    conv_a, _ = services.conversation_start(listing_id=listing.id, buyer=buyer)
    conv_b, _ = services.conversation_start(listing_id=listing.id, buyer=other)
    offer_a = services.offer_make(conversation=conv_a, buyer=buyer, amount_minor=80_000)
    offer_b = services.offer_make(conversation=conv_b, buyer=other, amount_minor=85_000)

    services.offer_accept(offer=offer_b, actor=seller)

    offer_a.refresh_from_db()
    assert offer_a.status == "declined"
    with pytest.raises(InvalidState):
        services.offer_accept(offer=offer_a, actor=seller)


def test_seller_discount_reaches_every_favouriter_once(listing, seller):
    fans = [FavouriteFactory(listing=listing).user for _ in range(3)]

    sent = services.discount_offer_to_favouriters(
        listing_id=listing.id, seller=seller, amount_minor=90_000
    )
    again = services.discount_offer_to_favouriters(
        listing_id=listing.id, seller=seller, amount_minor=85_000
    )

    assert (sent, again) == (3, 0)
    offers = Offer.objects.filter(is_discount=True)
    assert {o.buyer_id for o in offers} == {u.id for u in fans}
    # The buyer accepts a seller-made offer.
    services.offer_accept(offer=offers.first(), actor=offers.first().buyer)
    with pytest.raises(NotAllowed):
        services.discount_offer_to_favouriters(
            listing_id=listing.id, seller=fans[0], amount_minor=1
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_racing_acceptances_of_two_buyers_offers_exactly_one_wins(transactional_db):
    from django.db import connection

    from tests.listings.factories import ListingFactory

    seller = UserFactory()
    listing = ListingFactory(seller=seller, active=True, negotiable=True, price_minor=100_000)
    offers = []
    for _ in range(2):
        buyer = UserFactory()
        conv, _ = services.conversation_start(listing_id=listing.id, buyer=buyer)
        offers.append(services.offer_make(conversation=conv, buyer=buyer, amount_minor=90_000))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept(offer):
        try:
            barrier.wait()
            services.offer_accept(offer=offer, actor=seller)
            outcomes.append("won")
        except InvalidState:
            outcomes.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(o,)) for o in offers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["lost", "won"]
    assert Offer.objects.filter(status="accepted").count() == 1
    listing.refresh_from_db()
    assert listing.status == "reserved"
