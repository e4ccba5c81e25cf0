"""Automatic flags through the outbox: fraud holds, flagged messages,
escalated disputes, prohibited-item rules and duplicate photos."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from listings import services as listing_services
from listings.models import Listing
from marketplace.notifications.models import Notification
from marketplace.outbox.services import publish
from moderation import phash, services
from moderation.models import Case, Decision, PhotoHash
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from tests.moderation.conftest import pattern_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Run outbox events (and what they cause) within the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_flagged_chat_message_opens_a_case_on_the_message(deliver, listing, buyer, seller):
    from chat import services as chat_services

    conversation, _ = chat_services.conversation_start(listing_id=listing.id, buyer=buyer)
    message, _ = chat_services.message_send(conversation=conversation, sender=seller,
                                            client_id="m1", body="Hello")
    with deliver():
        publish(topic="chat.message_flagged", payload={
            "conversation_id": str(conversation.pk), "message_id": str(message.pk),
            "sender_id": str(seller.pk), "recipient_id": str(buyer.pk),
            "reasons": ["off_platform_payment"], "score": 0.91,
        })

    case = Case.objects.get()
    assert (case.target_type, case.target_id, case.source) == ("message", message.pk,
                                                               "message_flag")
    assert case.subject == seller and case.fraud_score == 0.91
    assert case.reasons == ["message: off_platform_payment"]


def test_the_same_flag_delivered_twice_changes_nothing(deliver, listing):
    with deliver():
        listing_services.listing_hold(listing=listing, score=0.9, reasons=["cheap"])
    case = Case.objects.get()
    from moderation.events import on_listing_held

    on_listing_held({"listing_id": str(listing.id), "seller_id": str(listing.seller_id),
                     "score": 0.9, "reasons": ["cheap"], "status": "pending_review"})

    assert Case.objects.count() == 1
    assert Case.objects.get().reasons == case.reasons
    assert Decision.objects.filter(case=case).count() == 1


@pytest.mark.parametrize("title, description, rule", [
    ("高仿 Rolex watch", "", "高仿"),
    ("Designer bag", "Eine Fälschung, aber gut gemacht", "Fälschung"),
    ("Replica sneakers", "", "replica"),
])
def test_prohibited_keywords_in_several_languages_hold_the_listing(
    deliver, seller, title, description, rule
):
    listing = ListingFactory(seller=seller, active=True, title="Plain watch")
    with deliver():
        listing_services.listing_update(listing=listing, actor=seller, title=title,
                                        description=description)

    listing.refresh_from_db()
    assert listing.status == "pending_review"
    case = Case.objects.get()
    assert case.source == "prohibited_rule"
    assert any(rule in reason for reason in case.reasons)
    decision = Decision.objects.get(case=case)
    assert decision.automated and decision.action == "hold"
    statement = Notification.objects.get(recipient=seller, kind="moderation_decision").payload
    assert statement["automated"] is True and rule in statement["rule"]


def test_prohibited_categories_are_configurable(deliver, seller, settings):
    settings.MODERATION_PROHIBITED_CATEGORIES = ["other"]
    listing = ListingFactory(seller=seller, active=True, title="Something")
    with deliver():
        listing_services.listing_update(listing=listing, actor=seller, description="Nice")
    assert Case.objects.get().reasons == ['rule: prohibited category "other"']


def test_ordinary_words_do_not_trip_the_rules():
    assert services.prohibited_hits(
        title="Counterfeiters-proof wallet, ivory-coloured", description="Gunther's old bike",
        category="other",
    ) == []


def _add_photo(listing, data: bytes):
    return listing_services.photo_add(
        listing=listing, actor=listing.seller,
        upload=SimpleUploadedFile("p.jpg", data, content_type="image/jpeg"),
    )


def _resized(data: bytes, size, quality) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(data)).resize(size).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def test_perceptual_hash_matches_a_resized_copy_not_another_picture(settings):
    original = pattern_jpeg(1)
    copy = _resized(original, (300, 225), 55)
    other = pattern_jpeg(2)
    h = [phash.phash_of(io.BytesIO(d)) for d in (original, copy, other)]
    assert phash.hamming(h[0], h[1]) <= settings.MODERATION_PHOTO_HASH_DISTANCE
    assert phash.hamming(h[0], h[2]) > settings.MODERATION_PHOTO_HASH_DISTANCE


def test_same_photo_under_a_different_seller_is_flagged(deliver):
    first_seller, thief, honest = UserFactory(), UserFactory(), UserFactory()
    original = ListingFactory(seller=first_seller, active=True, title="Original")
    own_again = ListingFactory(seller=first_seller, active=True, title="Original, again")
    stolen = ListingFactory(seller=thief, active=True, title="Stolen photo")
    unrelated = ListingFactory(seller=honest, active=True, title="Own photo")
    picture = pattern_jpeg(7)

    with deliver():
        _add_photo(original, picture)
        _add_photo(own_again, _resized(picture, (400, 300), 70))
        _add_photo(unrelated, pattern_jpeg(8))
    assert PhotoHash.objects.count() == 3
    assert not Case.objects.exists()  # same seller twice, and a different picture

    with deliver():
        _add_photo(stolen, _resized(picture, (256, 192), 60))

    case = Case.objects.get()
    assert (case.target_id, case.source, case.subject) == (stolen.id, "duplicate_photo", thief)
    matched = {m["other_listing_id"] for m in case.evidence["photo_matches"]}
    assert matched == {str(original.id), str(own_again.id)}
    assert Listing.objects.get(pk=stolen.pk).status == "active"  # flagged, not held


def test_reputation_manipulation_signal_opens_a_case_on_the_user(deliver, seller):
    with deliver():
        publish(topic="trust.reputation_signal", payload={
            "user_id": str(seller.pk), "kind": "closed_circle", "details": {"members": 4},
        })

    case = Case.objects.get()
    assert (case.target_type, case.target_id, case.source) == ("user", seller.pk,
                                                               "reputation_signal")
    assert case.reasons == ["reputation: closed_circle"]
    assert case.evidence == {"reputation_closed_circle": {"members": 4}}
