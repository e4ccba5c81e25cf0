"""Who may see and change a listing: the matrix of anonymous, another user,
a moderator and the owner for every endpoint (no IDOR)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from listings.models import Listing, Photo
from marketplace.outbox.models import OutboxEvent
from tests.conftest import client_for
from tests.listings import images
from tests.listings.factories import ListingFactory, PhotoFactory

pytestmark = pytest.mark.django_db

PRIVATE_STATES = ["draft", "pending_review", "withdrawn", "expired"]
PUBLIC_STATES = ["active", "reserved", "sold"]


@pytest.fixture
def clients(user, other_user, moderator, api_client):
    return {
        "anonymous": api_client,
        "other": client_for(other_user),
        "moderator": client_for(moderator),
        "owner": client_for(user),
    }


def state_of(state: str, seller) -> Listing:
    listing = ListingFactory(seller=seller, status=state, reserved_by="order-1")
    PhotoFactory(listing=listing, position=0)
    return listing


def snapshot(listing: Listing) -> tuple:
    listing.refresh_from_db()
    return (
        listing.status, listing.title, listing.price_minor, listing.updated_at,
        list(listing.photos.values_list("id", "position")),
    )


# --- reading --------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", PRIVATE_STATES)
def test_private_listing_is_visible_to_owner_and_moderator_only(clients, user, state):
    listing = state_of(state, user)
    url = f"/api/listings/{listing.id}"

    assert clients["anonymous"].get(url).status_code == 404
    assert clients["other"].get(url).status_code == 404
    assert clients["moderator"].get(url).status_code == 200
    assert clients["owner"].get(url).status_code == 200


@pytest.mark.parametrize("state", PUBLIC_STATES)
def test_public_listing_is_visible_to_everyone(clients, user, state):
    listing = state_of(state, user)

    for who, client in clients.items():
        assert client.get(f"/api/listings/{listing.id}").status_code == 200, who


def test_a_404_for_a_hidden_listing_looks_like_one_that_never_existed(clients, user):
    hidden = state_of("draft", user)

    hidden_body = clients["other"].get(f"/api/listings/{hidden.id}").json()
    missing_body = clients["other"].get(
        "/api/listings/01890000-0000-7000-8000-000000000000").json()

    assert hidden_body == missing_body


# --- writing --------------------------------------------------------------------------------------

def _upload():
    return {"image": SimpleUploadedFile("p.jpg", images.jpeg(64, 48), content_type="image/jpeg")}


# name -> (method, path suffix, body factory, format, owner's expected status per state kind)
WRITES = {
    "patch": ("patch", "", lambda listing: {"title": "Hijacked title"}, "json", 200),
    "delete": ("delete", "", lambda listing: None, None, {"draft": 204, "active": 409}),
    "publish": ("post", "/publish", lambda listing: None, None, 200),
    "withdraw": ("post", "/withdraw", lambda listing: None, None, 200),
    "relist": ("post", "/relist", lambda listing: None, None, {"draft": 409, "active": 200}),
    "add_photo": ("post", "/photos", lambda listing: _upload(), "multipart", 201),
    "delete_photo": ("delete", "/photos/{photo}", lambda listing: None, None, 200),
    "reorder_photos": ("post", "/photos/reorder",
                       lambda listing: {"photo_ids": [str(p.id) for p in listing.photos.all()]},
                       "json", 200),
}


def call(client, name: str, listing: Listing):
    method, suffix, body, fmt, _ = WRITES[name]
    photo = listing.photos.first()
    url = f"/api/listings/{listing.id}" + suffix.format(photo=photo.id if photo else "x")
    data = body(listing)
    kwargs = {"format": fmt} if fmt else {}
    return getattr(client, method)(url, data, **kwargs) if data is not None else getattr(
        client, method)(url)


@pytest.mark.parametrize("name", WRITES)
@pytest.mark.parametrize(("state", "other_status"), [("draft", 404), ("active", 403)])
def test_write_matrix(clients, user, name, state, other_status):
    """anonymous 401; someone who cannot see it 404; someone who can see it
    but does not own it (another user on an active listing, a moderator) 403;
    the owner succeeds."""
    listing = state_of(state, user)
    before = snapshot(listing)
    events_before = OutboxEvent.objects.count()

    assert call(clients["anonymous"], name, listing).status_code == 401
    assert call(clients["other"], name, listing).status_code == other_status
    assert call(clients["moderator"], name, listing).status_code == 403

    assert snapshot(listing) == before
    assert OutboxEvent.objects.count() == events_before
    expected = WRITES[name][4]
    expected = expected[state] if isinstance(expected, dict) else expected
    response = call(clients["owner"], name, listing)
    assert response.status_code == expected, response.content


@pytest.mark.parametrize("state", PRIVATE_STATES)
def test_others_cannot_favourite_what_they_cannot_see(clients, user, state):
    listing = state_of(state, user)

    response = clients["other"].post(f"/api/listings/{listing.id}/favorite")

    assert response.status_code == 404
    assert clients["anonymous"].post(f"/api/listings/{listing.id}/favorite").status_code == 401
    assert not listing.favourites.exists()


def test_photo_of_another_listing_cannot_be_deleted_through_mine(clients, user, other_user):
    mine = state_of("draft", user)
    theirs = state_of("draft", other_user)
    their_photo = theirs.photos.get()

    response = clients["owner"].delete(f"/api/listings/{mine.id}/photos/{their_photo.id}")

    assert response.status_code == 404
    assert Photo.objects.filter(pk=their_photo.pk).exists()


def test_moderator_cannot_edit_someone_elses_draft(clients, user):
    listing = state_of("draft", user)

    response = clients["moderator"].patch(f"/api/listings/{listing.id}", {"title": "Moderated"},
                                          format="json")

    assert response.status_code == 403
    listing.refresh_from_db()
    assert listing.title != "Moderated"


def test_my_favorites_needs_login(api_client, db):
    assert api_client.get("/api/me/favorites").status_code == 401
