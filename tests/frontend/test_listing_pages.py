"""Home, listing page, favourites, sell and edit forms: rendering and who may do what."""

from __future__ import annotations

import pytest
from django.test import Client

from listings.models import Favourite, Listing
from tests.listings.factories import ListingFactory, PhotoFactory

pytestmark = pytest.mark.django_db


def test_home_shows_fresh_listings_and_categories(listing):
    ListingFactory(seller=listing.seller, title="Secret draft")  # drafts stay private
    html = Client().get("/").content.decode()
    assert "Giant road bike" in html and "¥1,234.50" in html
    assert "Secret draft" not in html
    assert "?category=bikes" in html


def test_listing_page_shows_price_seller_reputation_and_actions(listing, buyer_client):
    PhotoFactory(listing=listing, position=0)
    PhotoFactory(listing=listing, position=1)
    html = buyer_client.get(f"/items/{listing.pk}/").content.decode()
    assert "Giant road bike" in html and "¥1,234.50" in html
    assert "Sally Seller" in html and 'data-testid="reputation"' in html
    assert "Chat with seller" in html and f"/items/{listing.pk}/buy/" in html
    assert html.count('aria-label="Photo ') == 2  # gallery thumbnails
    assert "Frame size" in html and "road" in html  # category attributes


def test_anonymous_visitor_sees_the_listing_but_no_favourite_button(listing):
    html = Client().get(f"/items/{listing.pk}/").content.decode()
    assert "Giant road bike" in html and "♡" not in html


def test_draft_is_not_found_for_others_but_shown_to_its_seller(seller, seller_client,
                                                               stranger_client):
    draft = ListingFactory(seller=seller, title="Half-written")
    assert stranger_client.get(f"/items/{draft.pk}/").status_code == 404
    assert Client().get(f"/items/{draft.pk}/").status_code == 404
    assert Client().get("/items/not-a-uuid/").status_code == 404
    html = seller_client.get(f"/items/{draft.pk}/").content.decode()
    assert "Half-written" in html and "Publish" in html


def test_favourite_and_unfavourite(listing, buyer, buyer_client):
    url = f"/items/{listing.pk}/favourite/"
    assert buyer_client.post(url).status_code == 302
    assert Favourite.objects.filter(user=buyer, listing=listing).exists()
    assert "♥" in buyer_client.get(f"/items/{listing.pk}/").content.decode()
    buyer_client.post(url, {"action": "remove"})
    assert not Favourite.objects.filter(user=buyer, listing=listing).exists()


def test_favourite_needs_login_and_a_visible_listing(seller, listing, stranger_client):
    assert Client().post(f"/items/{listing.pk}/favourite/").status_code == 302  # to login
    draft = ListingFactory(seller=seller)
    assert stranger_client.post(f"/items/{draft.pk}/favourite/").status_code == 404
    assert not Favourite.objects.exists()


def _form(**overrides):
    data = {
        "title": "Brompton folding bike", "category": "bikes", "condition": "like_new",
        "price": "2,480.50", "negotiable": "on", "description": "Barely used.",
        "city": "Shanghai", "ships": "", "pickup": "on",
        "attr__type": "folding", "attr__frame_size": "S", "attr__wheel_size": "16",
        "idempotency_key": "k1",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def test_sell_form_creates_a_draft_with_category_attributes(seller, seller_client):
    form = seller_client.get("/sell/").content.decode()
    assert 'data-category="bikes"' in form and 'data-category="phones"' in form

    response = seller_client.post("/sell/", _form())
    listing = Listing.objects.get(seller=seller)
    assert response.status_code == 302 and response["Location"] == f"/items/{listing.pk}/edit/"
    assert listing.status == "draft" and listing.price_minor == 248_050
    assert listing.attributes == {"type": "folding", "frame_size": "S", "wheel_size": 16}
    assert (listing.location_city, listing.location_lat) == ("Shanghai", 31.2304)
    # the same form sent twice (a double click) is one listing
    seller_client.post("/sell/", _form())
    assert Listing.objects.filter(seller=seller).count() == 1


def test_sell_form_shows_errors_for_bad_price_and_attributes(seller, seller_client):
    response = seller_client.post("/sell/", _form(price="12.345", idempotency_key="k2"))
    assert response.status_code == 400
    assert "Enter an amount such as 120 or 99.50." in response.content.decode()
    response = seller_client.post("/sell/", _form(attr__frame_size="XXXL", idempotency_key="k3"))
    assert response.status_code == 400 and "frame_size" in response.content.decode()
    assert not Listing.objects.exists()


def test_sell_page_needs_login():
    response = Client().get("/sell/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_edit_and_publish_own_draft(seller, seller_client):
    draft = ListingFactory(seller=seller, category_id=Listing._meta.get_field("category")
                           .related_model.objects.get(slug="bikes").pk, attributes={})
    page = seller_client.get(f"/items/{draft.pk}/edit/").content.decode()
    assert f"/api/listings/{draft.pk}/photos" in page and 'type="file"' in page
    response = seller_client.post(f"/items/{draft.pk}/edit/", _form(then="publish"))
    draft.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == f"/items/{draft.pk}/"
    assert draft.status == "active" and draft.title == "Brompton folding bike"


def test_publish_refused_for_incomplete_listing_shows_why(seller, seller_client):
    bikes = Listing._meta.get_field("category").related_model.objects.get(slug="bikes")
    draft = ListingFactory(seller=seller, category=bikes, attributes={})
    response = seller_client.post(f"/items/{draft.pk}/publish/", HTTP_REFERER="/")
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert "frame_size: required" in seller_client.get("/").content.decode()


def test_someone_elses_listing_cannot_be_edited_or_withdrawn(listing, stranger_client):
    assert stranger_client.get(f"/items/{listing.pk}/edit/").status_code == 404
    assert stranger_client.post(f"/items/{listing.pk}/edit/", _form()).status_code == 404
    assert stranger_client.post(f"/items/{listing.pk}/withdraw/").status_code == 404
    listing.refresh_from_db()
    assert listing.status == "active" and listing.title == "Giant road bike"


def test_my_listings_shows_drafts_and_saved_items(seller, seller_client, listing):
    ListingFactory(seller=seller, title="My draft")
    html = seller_client.get("/me/listings/").content.decode()
    assert "My draft" in html and "Giant road bike" in html and "Draft" in html


def test_profile_shows_reputation_and_active_listings(seller, listing):
    ListingFactory(seller=seller, title="Hidden draft")
    html = Client().get(f"/u/{seller.pk}/").content.decode()
    assert "Sally Seller" in html and "Giant road bike" in html and "Hidden draft" not in html
    assert "No ratings yet" in html
    assert Client().get("/u/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_home_and_listing_pages_make_a_fixed_number_of_queries(
    seller, listing, django_assert_max_num_queries
):
    for i in range(11):
        item = ListingFactory(seller=seller, active=True, title=f"Lamp {i}")
        PhotoFactory(listing=item, position=0)
    client = Client()
    with django_assert_max_num_queries(8):
        assert client.get("/").status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(f"/items/{listing.pk}/").status_code == 200
