"""The order lifecycle through the API, with the ledger checked at each step."""

from __future__ import annotations

import pytest

from listings.models import Listing
from tests.conftest import client_for
from tests.factories import UserFactory
from trust import escrow, ledger
from trust.models import Order, Payment
from trust.payments import sandbox_webhook

pytestmark = pytest.mark.django_db


def create(buyer, listing, **extra):
    response = client_for(buyer).post(
        "/api/orders", {"listing": str(listing.id), **extra}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def money(amount, currency="CNY"):
    return {"amount_minor": amount, "currency": currency}


def test_full_shipped_order_releases_funds_minus_fee(buyer, seller, listing):
    order = create(buyer, listing)
    assert order["status"] == "created"
    assert order["price"] == money(100_000)
    assert order["fee"] == money(5_000)  # 5 %, shown before payment
    assert order["seller_receives"] == money(95_000)
    listing.refresh_from_db()
    assert listing.status == "reserved"

    paid = client_for(buyer).post(
        f"/api/orders/{order['id']}/pay", {"payment_method": "card_ok"}, format="json"
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert ledger.user_held(seller.pk, "CNY").amount_minor == 100_000

    shipped = client_for(seller).post(
        f"/api/orders/{order['id']}/ship",
        {"carrier": "SF Express", "tracking": "SF1234567890"},
        format="json",
    )
    assert shipped.json()["status"] == "shipped"

    confirmed = client_for(buyer).post(f"/api/orders/{order['id']}/confirm")
    body = confirmed.json()
    assert body["status"] == "completed"
    assert [e["status"] for e in body["timeline"]] == ["created", "paid", "shipped", "completed"]
    assert ledger.user_available(seller.pk, "CNY").amount_minor == 95_000
    assert ledger.user_held(seller.pk, "CNY").amount_minor == 0
    listing.refresh_from_db()
    assert listing.status == "sold"
    assert ledger.audit().ok

    balance = client_for(seller).get("/api/me/balance").json()
    assert balance["available"] == money(95_000) and balance["held"] == money(0)
    statement = client_for(seller).get("/api/me/statement").json()["results"]
    assert any(row["amount"] == money(95_000) for row in statement)


def test_declined_card_is_402_and_the_order_stays_created(buyer, listing):
    order = create(buyer, listing)

    response = client_for(buyer).post(
        f"/api/orders/{order['id']}/pay", {"payment_method": "card_declined"}, format="json"
    )

    assert response.status_code == 402
    assert "declined" in response.json()["payment_method"][0]
    assert Order.objects.get(id=order["id"]).status == "created"
    assert ledger.audit().entries == 0


def test_card_review_waits_for_the_signed_webhook(buyer, listing, client):
    order = create(buyer, listing)
    pending = client_for(buyer).post(
        f"/api/orders/{order['id']}/pay", {"payment_method": "card_review"}, format="json"
    )
    assert pending.json()["status"] == "payment_pending"
    reference = Payment.objects.get().provider_reference

    body, signature = sandbox_webhook(kind="payment.succeeded", reference=reference)
    response = client.post(
        "/api/payments/webhook",
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE=signature,
    )

    assert response.json() == {"outcome": "paid"}
    assert Order.objects.get(id=order["id"]).status == "paid"


def test_same_idempotency_key_charges_once(buyer, listing):
    order = create(buyer, listing)
    client = client_for(buyer)
    url = f"/api/orders/{order['id']}/pay"

    first = client.post(
        url, {"payment_method": "card_ok"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1"
    )
    second = client.post(
        url, {"payment_method": "card_ok"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1"
    )

    assert first.status_code == second.status_code == 200
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()
    assert Payment.objects.count() == 1
    assert ledger.audit().entries == 1


def test_idempotency_key_reused_with_another_body_is_422(buyer, listing):
    client = client_for(buyer)
    client.post(
        "/api/orders", {"listing": str(listing.id)}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    response = client.post(
        "/api/orders", {"listing": "something-else"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert response.status_code == 422


def test_order_from_an_accepted_offer_uses_the_agreed_price(buyer, seller, listing):
    from chat import services as chat

    conversation, _ = chat.conversation_start(listing_id=listing.id, buyer=buyer)
    offer = chat.offer_make(conversation=conversation, buyer=buyer, amount_minor=80_000)
    chat.offer_accept(offer=offer, actor=seller)

    order = create(buyer, listing, offer=str(offer.id))

    assert order["price"] == money(80_000)
    assert order["fee"] == money(4_000)
    listing.refresh_from_db()
    assert listing.reserved_by == f"order:{order['id']}"
    # The conversation shows the order's steps as system messages.
    assert conversation.messages.filter(kind="system").exists()
    # Another buyer cannot check out the reserved listing.
    other = UserFactory()
    response = client_for(other).post("/api/orders", {"listing": str(listing.id)}, format="json")
    assert response.status_code == 409


def test_in_person_handover_with_the_buyers_code(buyer, seller, listing):
    Listing.objects.filter(id=listing.id).update(ships=False)
    order = create(buyer, listing)
    client_for(buyer).post(
        f"/api/orders/{order['id']}/pay", {"payment_method": "card_ok"}, format="json"
    )
    code = client_for(buyer).get(f"/api/orders/{order['id']}").json()["handover_code"]
    assert client_for(seller).get(f"/api/orders/{order['id']}").json()["handover_code"] is None

    wrong = client_for(seller).post(
        f"/api/orders/{order['id']}/handover",
        {"code": "000000" if code != "000000" else "111111"},
        format="json",
    )
    assert wrong.status_code == 400
    done = client_for(seller).post(
        f"/api/orders/{order['id']}/handover", {"code": code}, format="json"
    )
    assert done.json()["status"] == "completed"
    assert ledger.audit().ok


@pytest.mark.parametrize(
    ("step", "who", "path", "body"),
    [
        ("created", "seller", "ship", {"carrier": "SF", "tracking": "SF1234"}),
        ("created", "buyer", "confirm", {}),
        ("paid", "buyer", "pay", {"payment_method": "card_ok"}),  # idempotent: 200
        ("shipped", "buyer", "cancel", {}),
        ("completed", "buyer", "dispute", {"reason": "not_received"}),
    ],
)
def test_illegal_transitions_are_409_with_the_state(buyer, seller, listing, step, who, path, body):
    order = Order.objects.get(id=create(buyer, listing)["id"])
    if step in ("paid", "shipped", "completed"):
        escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    if step in ("shipped", "completed"):
        escrow.order_ship(order=order, seller=seller, carrier="SF", tracking="SF1234")
    if step == "completed":
        escrow.order_confirm(order=order, buyer=buyer)
    actor = buyer if who == "buyer" else seller
    entries_before = ledger.audit().entries

    response = client_for(actor).post(f"/api/orders/{order.id}/{path}", body, format="json")

    if path == "pay" and step == "paid":
        assert response.status_code == 200
    else:
        assert response.status_code == 409, response.content
        assert response.json()["state"] == step
    assert Order.objects.get(id=order.id).status == step
    assert ledger.audit().entries == entries_before


def test_strangers_cannot_see_or_touch_an_order(buyer, listing):
    order = create(buyer, listing)
    stranger = client_for(UserFactory())

    assert stranger.get(f"/api/orders/{order['id']}").status_code == 404
    assert (
        stranger.post(
            f"/api/orders/{order['id']}/pay", {"payment_method": "card_ok"}, format="json"
        ).status_code
        == 404
    )
    assert stranger.post(f"/api/orders/{order['id']}/cancel").status_code == 404
    assert Order.objects.get(id=order["id"]).status == "created"


def test_seller_cannot_pay_and_buyer_cannot_ship(buyer, seller, listing):
    order = create(buyer, listing)

    assert (
        client_for(seller)
        .post(f"/api/orders/{order['id']}/pay", {"payment_method": "card_ok"}, format="json")
        .status_code
        == 403
    )
    client_for(buyer).post(
        f"/api/orders/{order['id']}/pay", {"payment_method": "card_ok"}, format="json"
    )
    assert (
        client_for(buyer)
        .post(
            f"/api/orders/{order['id']}/ship",
            {"carrier": "SF", "tracking": "SF9999"},
            format="json",
        )
        .status_code
        == 403
    )


def test_buying_your_own_listing_is_400(seller, listing):
    response = client_for(seller).post("/api/orders", {"listing": str(listing.id)}, format="json")

    assert response.status_code == 400


def test_seller_cancel_after_payment_refunds_the_buyer(buyer, seller, listing):
    order = create(buyer, listing)
    client_for(buyer).post(
        f"/api/orders/{order['id']}/pay", {"payment_method": "card_ok"}, format="json"
    )

    response = client_for(seller).post(f"/api/orders/{order['id']}/cancel")

    assert response.json()["status"] == "cancelled"
    listing.refresh_from_db()
    assert listing.status == "active"
    assert ledger.user_held(seller.pk, "CNY").amount_minor == 0
    assert ledger.user_available(seller.pk, "CNY").amount_minor == 0
    assert ledger.audit().ok
