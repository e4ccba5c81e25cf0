"""Dispute evidence photos: the buyer and the seller attach photos to an open
dispute; they are cleaned by the listings photo pipeline (no EXIF, no GPS),
stored privately, and shown to both parties and moderators only."""

from __future__ import annotations

import io
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.images import jpeg, jpeg_with_gps, png
from trust import escrow
from trust.models import DisputeEvidence, OrderEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipped(buyer, seller, listing):
    order = escrow.order_create(buyer=buyer, listing_id=listing.id)
    order = escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok")
    return escrow.order_ship(order=order, seller=seller, carrier="SF Express", tracking="SF0001")


@pytest.fixture
def disputed(shipped, buyer):
    return escrow.order_dispute(order=shipped, buyer=buyer, reason="not_as_described")


def upload(user, order, *files: bytes):
    return client_for(user).post(
        f"/api/orders/{order.pk}/dispute/evidence",
        {"image": [SimpleUploadedFile(f"p{i}.jpg", data) for i, data in enumerate(files)]},
        format="multipart",
    )


def fetch(user, url: str):
    return client_for(user).get(url.replace("http://testserver", ""))


def test_both_parties_attach_photos_stored_on_s3_without_exif(
    s3_storage, buyer, seller, moderator, disputed
):
    by_buyer = upload(buyer, disputed, jpeg_with_gps(), png())
    by_seller = upload(seller, disputed, jpeg(300, 200))

    assert by_buyer.status_code == 201, by_buyer.content
    assert [item["role"] for item in by_buyer.json()["evidence"]] == ["buyer", "buyer"]
    assert by_seller.status_code == 201, by_seller.content
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=s3_storage)["Contents"])
    assert len(keys) == 3
    assert all(key.startswith(f"disputes/{disputed.pk}/") for key in keys)
    # The stored photo is a clean, upright JPEG: the GPS and camera EXIF are gone.
    first = by_buyer.json()["evidence"][0]
    got = fetch(seller, first["url"])
    assert got.status_code == 200
    assert got["Content-Type"] == "image/jpeg"
    photo = Image.open(io.BytesIO(b"".join(got.streaming_content)))
    assert photo.format == "JPEG"
    assert dict(photo.getexif()) == {}
    assert photo.size == (200, 400)  # orientation 6 applied to the 400x200 pixels
    # Both parties and a moderator see all three in the order's dispute block.
    for viewer in (buyer, seller, moderator):
        detail = client_for(viewer).get(f"/api/orders/{disputed.pk}").json()
        assert [e["role"] for e in detail["dispute"]["evidence"]] == ["buyer", "buyer", "seller"]
    assert OrderEvent.objects.filter(order=disputed, action="evidence_added").count() == 2


def test_evidence_on_local_storage_is_served_only_through_the_api(buyer, seller, disputed):
    response = upload(buyer, disputed, jpeg())

    assert response.status_code == 201, response.content
    item = DisputeEvidence.objects.get(order=disputed)
    assert (Path(settings.MEDIA_ROOT) / item.image.name).is_file()
    listed = client_for(seller).get(f"/api/orders/{disputed.pk}/dispute/evidence").json()
    assert [e["id"] for e in listed["evidence"]] == [str(item.pk)]
    got = fetch(seller, listed["evidence"][0]["url"])
    assert got.status_code == 200
    assert Image.open(io.BytesIO(b"".join(got.streaming_content))).format == "JPEG"


def test_other_users_get_404_and_moderators_may_look_but_not_upload(buyer, moderator, disputed):
    url = upload(buyer, disputed, jpeg()).json()["evidence"][0]["url"]
    stranger = UserFactory()

    assert (
        client_for(stranger).get(f"/api/orders/{disputed.pk}/dispute/evidence").status_code == 404
    )
    assert fetch(stranger, url).status_code == 404
    assert upload(stranger, disputed, jpeg()).status_code == 404
    assert (
        client_for(moderator).get(f"/api/orders/{disputed.pk}/dispute/evidence").status_code == 200
    )
    assert fetch(moderator, url).status_code == 200
    assert upload(moderator, disputed, jpeg()).status_code == 403
    assert DisputeEvidence.objects.filter(order=disputed).count() == 1


def test_bad_uploads_and_too_many_photos_store_nothing(settings, buyer, disputed):
    settings.ESCROW_DISPUTE_EVIDENCE_MAX_PHOTOS = 2

    not_an_image = upload(buyer, disputed, jpeg(), b"just some text, not a photo")
    too_many = upload(buyer, disputed, jpeg(), jpeg(), jpeg())
    none = client_for(buyer).post(
        f"/api/orders/{disputed.pk}/dispute/evidence", {}, format="multipart"
    )
    assert upload(buyer, disputed, jpeg(), jpeg()).status_code == 201
    one_more = upload(buyer, disputed, jpeg())

    assert not_an_image.status_code == 400
    assert not_an_image.json()["code"] == "not_an_image"
    assert too_many.status_code == 400
    assert none.status_code == 400
    assert one_more.status_code == 400
    assert "At most 2 photos" in str(one_more.json())
    assert DisputeEvidence.objects.filter(order=disputed).count() == 2
    assert len(list((Path(settings.MEDIA_ROOT) / "disputes" / str(disputed.pk)).iterdir())) == 2


def test_evidence_needs_an_open_dispute(buyer, seller, shipped, moderator):
    before = upload(buyer, shipped, jpeg())
    disputed = escrow.order_dispute(order=shipped, buyer=buyer, reason="not_received")
    escrow.dispute_seller_respond(order=disputed, seller=seller, action="refund")
    after = upload(buyer, shipped, jpeg())

    assert before.status_code == 409
    assert before.json()["state"] == "shipped"
    assert after.status_code == 409
    assert after.json()["state"] == "refunded"
    assert not DisputeEvidence.objects.exists()
