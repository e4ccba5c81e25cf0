"""Photo uploads against moto's real S3 server: validation, metadata
stripping, orientation, sizes made by the Celery task, deletion."""

from __future__ import annotations

import io
import time
import urllib.request

import boto3
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from listings import events, services
from listings.models import Photo
from marketplace.outbox.models import OutboxEvent
from tests.listings import images
from tests.listings.factories import ListingFactory, PhotoFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(s3_storage):
    client = boto3.client(
        "s3", endpoint_url=settings.AWS_S3_ENDPOINT_URL, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )

    class Bucket:
        name = s3_storage

        def keys(self) -> list[str]:
            listed = client.list_objects_v2(Bucket=s3_storage)
            return sorted(o["Key"] for o in listed.get("Contents", []))

        def read(self, key: str) -> bytes:
            return client.get_object(Bucket=s3_storage, Key=key)["Body"].read()

    return Bucket()


@pytest.fixture
def listing(user):
    return ListingFactory(seller=user)


def upload(client, listing, data: bytes, name: str = "photo.jpg", content_type="image/jpeg"):
    return client.post(
        f"/api/listings/{listing.id}/photos",
        {"image": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


def assert_refused(response, listing, s3, fragment: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert fragment in body["image"][0], body
    assert fragment in body["detail"]
    assert not listing.photos.exists()
    assert s3.keys() == []
    assert not OutboxEvent.objects.exists()


# --- a good photo ---------------------------------------------------------------------------------


def test_photo_is_stored_on_s3_without_exif_or_gps_and_upright(
    user_client, listing, s3, django_capture_on_commit_callbacks
):
    original = images.jpeg_with_gps(400, 200, orientation=6)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(images.GPS_IFD)  # the test's premise

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, listing, original)

    assert response.status_code == 201, response.content
    body = response.json()
    photo = Photo.objects.get(pk=body["id"])
    assert photo.image.name == f"listings/{listing.id}/{photo.id}.jpg"
    stored = s3.read(photo.image.name)
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    exif = image.getexif()
    assert len(exif) == 0 and not exif.get_ifd(images.GPS_IFD)
    assert b"Exif" not in stored[:4096] and b"TestPhone" not in stored
    assert "exif" not in image.info and "xmp" not in image.info
    # Orientation 6 = "rotate 90 degrees clockwise to view": the wide picture is
    # stored tall, and its red left half is now on top.
    assert image.size == (200, 400) == (photo.width, photo.height)
    rgb = image.convert("RGB")
    top, bottom = rgb.getpixel((100, 50)), rgb.getpixel((100, 350))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_thumbnail_and_medium_are_made_after_commit(
    user_client, listing, s3, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, listing, images.jpeg(2000, 1500))
    photo = Photo.objects.get(pk=response.json()["id"])

    assert photo.thumbnail.name == f"listings/{listing.id}/{photo.id}_thumbnail.jpg"
    assert photo.medium.name == f"listings/{listing.id}/{photo.id}_medium.jpg"
    assert Image.open(io.BytesIO(s3.read(photo.thumbnail.name))).size == (320, 240)
    assert Image.open(io.BytesIO(s3.read(photo.medium.name))).size == (1024, 768)
    detail = user_client.get(f"/api/listings/{listing.id}").json()
    [shown] = detail["photos"]
    assert shown["id"] == str(photo.id) and shown["position"] == 0
    assert (shown["width"], shown["height"]) == (2000, 1500)
    for key in ("url", "thumbnail_url", "medium_url"):
        assert shown[key].startswith(settings.AWS_S3_ENDPOINT_URL), shown[key]
    with urllib.request.urlopen(shown["thumbnail_url"]) as served:  # moto serves it
        assert Image.open(io.BytesIO(served.read())).size == (320, 240)


def test_small_photo_serves_its_original_as_medium(user_client, listing, s3,
                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, listing, images.jpeg(800, 600))
    photo = Photo.objects.get(pk=response.json()["id"])

    assert photo.medium.name == photo.image.name  # no 1024 px copy of an 800 px picture
    assert photo.thumbnail.name.endswith("_thumbnail.jpg")
    assert len(s3.keys()) == 2
    with django_capture_on_commit_callbacks(execute=True):
        user_client.delete(f"/api/listings/{listing.id}/photos/{photo.id}")
    assert s3.keys() == []


def test_upload_answer_has_id_url_and_thumbnail_url(user_client, listing, s3):
    response = upload(user_client, listing, images.jpeg())

    assert response.status_code == 201
    body = response.json()
    assert {"id", "url", "thumbnail_url"} <= set(body)
    # Still inside the test's transaction: the task has not run, so no thumbnail yet.
    assert body["thumbnail_url"] is None
    assert body["url"].startswith(settings.AWS_S3_ENDPOINT_URL)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_in_eager_mode_the_thumbnail_is_there_in_the_upload_answer(user, s3):
    from tests.conftest import client_for

    listing = ListingFactory(seller=user)
    response = upload(client_for(user), listing, images.jpeg())

    assert response.status_code == 201
    assert response.json()["thumbnail_url"] is not None


@pytest.mark.parametrize(("maker", "name", "fmt"), [
    (lambda: images.png(mode="RGBA"), "transparent.png", "PNG"),
    (lambda: images.png(mode="P"), "palette.png", "PNG"),
    (images.webp, "photo.webp", "WEBP"),
])
def test_png_and_webp_are_accepted_and_stored_as_jpeg(user_client, listing, s3, maker, name, fmt):
    response = upload(user_client, listing, maker(), name=name, content_type="image/" + fmt.lower())

    assert response.status_code == 201, response.content
    photo = Photo.objects.get(pk=response.json()["id"])
    assert Image.open(io.BytesIO(s3.read(photo.image.name))).format == "JPEG"


def test_upload_writes_a_listing_updated_event(user_client, listing, s3):
    upload(user_client, listing, images.jpeg())

    event = OutboxEvent.objects.get()
    assert event.topic == events.LISTING_UPDATED
    assert event.payload["changed"] == ["photos"]


def test_positions_follow_upload_order(user_client, listing, s3):
    ids = [upload(user_client, listing, images.jpeg(color=(i * 40, 0, 0))).json()["id"]
           for i in range(3)]

    detail = user_client.get(f"/api/listings/{listing.id}").json()

    assert [p["id"] for p in detail["photos"]] == ids
    assert [p["position"] for p in detail["photos"]] == [0, 1, 2]


# --- refused uploads: 400 with the reason, nothing stored -----------------------------------------


def test_truncated_jpeg_is_refused(user_client, listing, s3):
    response = upload(user_client, listing, images.truncated_jpeg())

    assert_refused(response, listing, s3, "truncated or corrupt")
    assert response.json()["code"] == "image_corrupt"


def test_text_file_named_jpg_is_refused(user_client, listing, s3):
    response = upload(user_client, listing, images.text_as_jpg(), name="holiday.jpg")

    assert_refused(response, listing, s3, "not an image")


def test_fifty_megapixel_bomb_is_refused_from_its_header(user_client, listing, s3):
    bomb = images.png_bomb(8000, 6250)
    assert len(bomb) < 100_000  # tiny on disk, 50 megapixels when decoded

    started = time.monotonic()
    response = upload(user_client, listing, bomb, name="bomb.png", content_type="image/png")

    assert_refused(response, listing, s3, "8000x6250 pixels (50.0 megapixels)")
    assert response.json()["code"] == "image_too_many_pixels"
    assert time.monotonic() - started < 2  # never decoded


def test_pillow_bomb_guard_is_an_error_too(listing, settings, monkeypatch):
    """Above Pillow's own limit the open itself refuses; that is a 400, not a warning."""
    from listings import photos

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    settings.PHOTO_MAX_PIXELS = 10_000_000_000
    with pytest.raises(photos.PhotoRejected) as error:
        photos.process_upload(images.png_bomb(2000, 1000))  # 2 MP: a warning in Pillow
    assert error.value.code == "image_too_many_pixels"


def test_gif_is_refused_as_a_format(user_client, listing, s3):
    response = upload(user_client, listing, images.gif(), name="a.gif", content_type="image/gif")

    assert_refused(response, listing, s3, "GIF images are not accepted")


def test_file_over_the_byte_limit_is_refused(user_client, listing, s3, settings):
    settings.PHOTO_MAX_BYTES = 10_000

    response = upload(user_client, listing, images.jpeg(1200, 900, quality=95))

    assert_refused(response, listing, s3, "too big")


def test_empty_file_and_missing_field_are_400(user_client, listing, s3):
    missing = user_client.post(f"/api/listings/{listing.id}/photos", {}, format="multipart")
    assert missing.status_code == 400
    assert "image" in missing.json()

    empty = upload(user_client, listing, b"")
    assert empty.status_code == 400
    assert not listing.photos.exists()


def test_thirteenth_photo_is_refused(user_client, listing, s3, settings):
    assert settings.LISTING_MAX_PHOTOS == 12
    for position in range(12):
        PhotoFactory(listing=listing, position=position)

    response = upload(user_client, listing, images.jpeg())

    assert response.status_code == 400
    assert response.json()["image"] == ["A listing can have at most 12 photos."]
    assert listing.photos.count() == 12
    assert s3.keys() == []


def test_photos_of_a_sold_listing_cannot_change(user, user_client, s3):
    sold = ListingFactory(seller=user, status="sold")

    response = upload(user_client, sold, images.jpeg())

    assert response.status_code == 409
    assert response.json()["state"] == "sold"
    assert s3.keys() == []


# --- broker trouble and the variants task ---------------------------------------------------------


def test_broker_outage_does_not_fail_the_upload(
    user_client, listing, s3, monkeypatch, django_capture_on_commit_callbacks
):
    from listings import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(tasks.make_photo_variants, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, listing, images.jpeg())

    assert response.status_code == 201
    photo = Photo.objects.get(pk=response.json()["id"])
    assert photo.thumbnail.name == ""
    # The backfill picks it up later.
    Photo.objects.filter(pk=photo.pk).update(created_at=photo.created_at.replace(year=2000))
    assert services.photos_backfill_variants() == 1
    photo.refresh_from_db()
    assert photo.thumbnail.name and photo.medium.name


def test_variants_task_is_idempotent(user_client, listing, s3):
    from listings.tasks import make_photo_variants

    photo_id = upload(user_client, listing, images.jpeg(1600, 1200)).json()["id"]

    assert make_photo_variants.delay(photo_id).get() is True
    keys = s3.keys()
    assert make_photo_variants.delay(photo_id).get() is False
    Photo.objects.filter(pk=photo_id).update(medium="")  # as if the first run died midway
    assert services.photo_make_variants(photo_id=photo_id) is True
    assert s3.keys() == keys  # same names: replaced, not duplicated
    assert len(keys) == 3
    assert services.photo_make_variants(photo_id="01890000-0000-7000-8000-000000000000") is False


# --- delete and reorder ---------------------------------------------------------------------------


def test_deleting_a_photo_removes_its_files_and_closes_the_gap(
    user_client, listing, s3, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ids = [upload(user_client, listing, images.jpeg(1600, 1200)).json()["id"]
               for _ in range(3)]
    assert len(s3.keys()) == 9  # original, medium, thumbnail each

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(f"/api/listings/{listing.id}/photos/{ids[0]}")

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["photos"]] == ids[1:]
    assert [p["position"] for p in response.json()["photos"]] == [0, 1]
    assert len(s3.keys()) == 6
    assert not any(ids[0] in key for key in s3.keys())


def test_reorder_photos(user_client, listing, s3):
    ids = [upload(user_client, listing, images.jpeg()).json()["id"] for _ in range(3)]

    response = user_client.post(f"/api/listings/{listing.id}/photos/reorder",
                                {"photo_ids": [ids[2], ids[0], ids[1]]}, format="json")

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["photos"]] == [ids[2], ids[0], ids[1]]
    bad = user_client.post(f"/api/listings/{listing.id}/photos/reorder",
                           {"photo_ids": [ids[0], ids[0], ids[1]]}, format="json")
    assert bad.status_code == 400


def test_local_media_storage_is_used_without_s3(user_client, listing, settings,
                                                django_capture_on_commit_callbacks):
    from pathlib import Path

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, listing, images.jpeg())

    photo = Photo.objects.get(pk=response.json()["id"])
    assert (Path(settings.MEDIA_ROOT) / photo.image.name).is_file()
    assert (Path(settings.MEDIA_ROOT) / photo.thumbnail.name).is_file()
    assert response.json()["url"] == f"http://testserver/media/{photo.image.name}"
