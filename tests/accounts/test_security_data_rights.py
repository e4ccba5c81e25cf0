"""Data rights: the export holds everything about the user and nothing about
anyone else; deletion anonymises after a grace period and keeps the ledger
and the other party's history intact."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.test import APIClient

from chat import services as chat_services
from listings.models import Listing, Photo
from marketplace.accounts import privacy
from marketplace.accounts.models import DataExport, User, UserSession
from marketplace.accounts.tasks import anonymise_due_accounts
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from trust import escrow, ledger
from trust.reputation import review_submit
from trust.reputation_models import Review

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_throttles(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}


@pytest.fixture
def world(db):
    """alice sold a camera to bob (completed, reviewed both ways) and chatted;
    carol and dave have their own listing, chat and order alice must never see."""
    alice = UserFactory(username="alice", display_name="Alice Chen")
    alice.phone = "+8613812345678"
    alice.save()
    bob = UserFactory(username="bob", display_name="Bob Martin")
    carol = UserFactory(username="carol", display_name="Carol Secret")
    dave = UserFactory(username="dave", display_name="Dave Hidden")

    camera = ListingFactory(
        seller=alice, active=True, title="Alice camera X100", price_minor=100_000
    )
    name = default_storage.save(f"listings/{camera.id}/front.jpg", ContentFile(b"ALICE-PHOTO"))
    Photo.objects.create(listing=camera, image=name, width=10, height=10, position=0)
    lamp = ListingFactory(seller=alice, active=True, title="Alice lamp still for sale")

    conversation, _ = chat_services.conversation_start(listing_id=camera.id, buyer=bob)
    chat_services.message_send(conversation=conversation, sender=bob, body="Is it still there?")
    chat_services.message_send(conversation=conversation, sender=alice, body="Yes, alice-reply-1")
    order = escrow.order_create(buyer=bob, listing_id=camera.id)
    escrow.order_pay(order=order, buyer=bob, payment_method="card_ok")
    escrow.order_ship(order=order, seller=alice, carrier="SF", tracking="SF000001")
    order = escrow.order_confirm(order=order, buyer=bob)
    review_submit(order=order, author=bob, rating=5, comment="bob-says-great-seller")
    review_submit(order=order, author=alice, rating=4, comment="alice-says-quick-payer")

    secret = ListingFactory(seller=carol, active=True, title="Carol secret sofa")
    other_chat, _ = chat_services.conversation_start(listing_id=secret.id, buyer=dave)
    chat_services.message_send(conversation=other_chat, sender=dave, body="dave-private-words")
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "dave": dave,
        "camera": camera,
        "lamp": lamp,
        "order": order,
    }


def export_zip(client, django_capture_on_commit_callbacks) -> zipfile.ZipFile:
    with django_capture_on_commit_callbacks(execute=True):
        started = client.get("/api/me/export")
    assert started.status_code == 202
    assert started.json()["status"] == "pending"
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/export/download" in line)
    download = APIClient().get(link.split("testserver", 1)[-1].replace("http://127.0.0.1:8000", ""))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))


def test_export_holds_everything_about_the_user_and_nothing_about_others(
    world, django_capture_on_commit_callbacks
):
    alice = world["alice"]
    archive = export_zip(client_for(alice), django_capture_on_commit_callbacks)

    names = set(archive.namelist())
    assert {"profile.json", "listings.json", "messages.json", "orders.json", "README.txt"} <= names
    assert "reports.json" in names
    profile = json.loads(archive.read("profile.json"))
    assert profile["username"] == "alice" and profile["phone"] == "+8613812345678"
    listings = json.loads(archive.read("listings.json"))["listings"]
    assert {item["title"] for item in listings} == {
        "Alice camera X100",
        "Alice lamp still for sale",
    }
    photo = f"files/listings/{world['camera'].id}/" + Photo.objects.get().image.name.rsplit("/")[-1]
    assert archive.read(photo) == b"ALICE-PHOTO"
    messages = json.loads(archive.read("messages.json"))["conversations"]
    bodies = [m["body"] for m in messages[0]["messages"]]
    assert bodies[:2] == ["Is it still there?", "Yes, alice-reply-1"]  # then order notes
    assert [m["from"] for m in messages[0]["messages"][:2]] == ["counterpart", "me"]
    orders = json.loads(archive.read("orders.json"))
    assert orders["orders"][0]["role"] == "seller" and orders["orders"][0]["status"] == "completed"
    assert {r["comment"] for r in orders["reviews"]} == {
        "bob-says-great-seller",
        "alice-says-quick-payer",
    }
    assert orders["ledger_statement"]
    everything = b"".join(archive.read(n) for n in names).decode("utf-8", "replace")
    for foreign in ("Carol secret sofa", "dave-private-words", "Carol Secret", "Dave Hidden"):
        assert foreign not in everything
    assert str(world["carol"].id) not in everything


def test_export_status_is_answered_until_done_and_progress_reaches_100(
    world, django_capture_on_commit_callbacks
):
    client = client_for(world["alice"])
    with django_capture_on_commit_callbacks(execute=False):
        first = client.get("/api/me/export").json()
        second = client.get("/api/me/export").json()  # still pending: the same job
    assert first["id"] == second["id"]
    privacy.data_export_build(export_id=first["id"])

    done = client.get("/api/me/export")

    assert done.status_code == 200
    assert done.json()["id"] == first["id"]
    assert done.json()["status"] == "done" and done.json()["progress"] == 100
    assert DataExport.objects.count() == 1


def test_export_link_is_signed_and_expires(world, settings):
    export, _ = privacy.data_export_request(user=world["alice"])
    privacy.data_export_build(export_id=export.id)
    export.refresh_from_db()
    assert APIClient().get("/api/me/export/download?token=forged:token").status_code == 404
    week_ago = time.time() - settings.DATA_EXPORT_LINK_MAX_AGE - 60
    with mock.patch("django.core.signing.time.time", return_value=week_ago):
        old_link = privacy.export_link(export)

    response = APIClient().get(old_link.split("127.0.0.1:8000", 1)[1])

    assert response.status_code == 404


def test_export_needs_login(api_client):
    assert api_client.get("/api/me/export").status_code == 401


# --- deletion ------------------------------------------------------------------------------------


def age_step_up(user):
    UserSession.objects.filter(user=user).update(
        stepped_up_at=timezone.now() - timedelta(minutes=30)
    )


def test_deletion_needs_step_up_and_can_be_undone_in_the_grace_period(world, settings):
    alice = world["alice"]
    client = client_for(alice)
    client.get("/api/me")  # the token becomes a session
    age_step_up(alice)
    assert client.delete("/api/me").status_code == 403
    assert User.objects.get(id=alice.id).deletion_due_at is None

    client.post("/api/me/step-up", {"password": "correct-horse-battery"})
    scheduled = client.delete("/api/me")
    assert scheduled.status_code == 202
    due = User.objects.get(id=alice.id).deletion_due_at
    assert timedelta(days=13, hours=23) < due - timezone.now() <= timedelta(days=14)

    restored = client.post("/api/me/restore")

    assert restored.status_code == 200 and restored.json() == {"deletion_due_at": None}
    assert anonymise_due_accounts() == 0
    assert User.objects.get(id=alice.id).username == "alice"


def test_due_deletion_anonymises_but_keeps_ledger_and_the_other_partys_history(world):
    alice, bob, order = world["alice"], world["bob"], world["order"]
    alice_client = client_for(alice)
    available_before = ledger.user_available(alice.pk, "CNY")
    bob_before = ledger.user_available(bob.pk, "CNY")
    assert available_before.amount_minor == 95_000
    alice_client.post("/api/me/step-up", {"password": "correct-horse-battery"})
    assert alice_client.delete("/api/me").status_code == 202
    User.objects.filter(id=alice.id).update(deletion_due_at=timezone.now() - timedelta(seconds=1))

    assert anonymise_due_accounts() == 1
    assert anonymise_due_accounts() == 0  # idempotent

    gone = User.objects.get(id=alice.id)  # the row stays
    assert gone.username.startswith("deleted-") and gone.display_name == "deleted user"
    assert gone.email == "" and gone.phone == "" and gone.bio == ""
    assert not gone.is_active and not gone.has_usable_password()
    assert alice_client.get("/api/me").status_code == 401
    assert APIClient().get(f"/api/users/{alice.id}").status_code == 404
    # Money: the ledger balances and still sums to zero.
    assert ledger.audit().ok
    assert ledger.user_available(alice.pk, "CNY") == available_before
    assert ledger.user_available(bob.pk, "CNY") == bob_before
    # Bob's history: his order and both reviews are intact, alice shows as deleted.
    bob_view = client_for(bob).get(f"/api/orders/{order.id}")
    assert bob_view.status_code == 200
    assert bob_view.json()["status"] == "completed"
    assert bob_view.json()["seller"]["display_name"] == "deleted user"
    assert Review.objects.filter(order=order).count() == 2
    # Her unsold listing left the marketplace; the sold one stays for the order.
    assert Listing.objects.get(id=world["lamp"].id).status == "withdrawn"
    assert Listing.objects.get(id=world["camera"].id).status == "sold"


def test_deletion_waits_for_open_orders(world):
    bob, carol = world["bob"], world["carol"]
    sofa = Listing.objects.get(seller=carol)
    escrow.order_create(buyer=bob, listing_id=sofa.id)

    client = client_for(bob)
    client.post("/api/me/step-up", {"password": "correct-horse-battery"})

    response = client.delete("/api/me")

    assert response.status_code == 409
    assert "open order" in response.json()["detail"]
    assert User.objects.get(id=bob.id).deletion_due_at is None


def test_expired_exports_are_purged_with_their_files(world, settings):
    export, _ = privacy.data_export_request(user=world["alice"])
    privacy.data_export_build(export_id=export.id)
    export.refresh_from_db()
    assert default_storage.exists(export.file_name)

    later = timezone.now() + timedelta(seconds=settings.DATA_EXPORT_LINK_MAX_AGE + 60)
    assert privacy.data_exports_purge(now=timezone.now()) == 0
    assert privacy.data_exports_purge(now=later) == 1

    assert not default_storage.exists(export.file_name)
    assert not DataExport.objects.filter(id=export.id).exists()
