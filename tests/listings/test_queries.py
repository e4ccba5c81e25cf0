"""Query counts of the hot read paths stay constant however much there is (no N+1)."""

from __future__ import annotations

import pytest

from tests.listings.factories import FavouriteFactory, ListingFactory, PhotoFactory

pytestmark = pytest.mark.django_db


def listing_with_photos(n_photos: int = 3, **kwargs):
    listing = ListingFactory(active=True, **kwargs)
    for position in range(n_photos):
        PhotoFactory(listing=listing, position=position)
    return listing


def test_detail_for_anonymous_is_one_statement(api_client, django_assert_num_queries):
    listing = listing_with_photos(12)

    # the listing with seller, category, is_favorite, photos and the view counter
    with django_assert_num_queries(1):
        response = api_client.get(f"/api/listings/{listing.id}")

    assert response.status_code == 200
    assert len(response.json()["photos"]) == 12


def test_detail_for_a_logged_in_user_is_constant(other_user, other_client,
                                                 django_assert_num_queries):
    listing = listing_with_photos(12)
    FavouriteFactory(user=other_user, listing=listing)

    # + the token, + the permission check behind fraud_hold (user and group permissions)
    with django_assert_num_queries(4):
        response = other_client.get(f"/api/listings/{listing.id}")

    assert response.json()["is_favorite"] is True


def test_detail_for_the_seller_skips_view_counting_and_permissions(user, user_client,
                                                                    django_assert_num_queries):
    listing = listing_with_photos(5, seller=user)

    with django_assert_num_queries(2):  # token, the listing
        assert user_client.get(f"/api/listings/{listing.id}").status_code == 200


@pytest.mark.parametrize("how_many", [1, 20])
def test_list_of_listings_with_photos_is_constant(api_client, user_client, how_many,
                                                  django_assert_num_queries):
    for _ in range(how_many):
        listing_with_photos(4)

    # count, the page with sellers and categories, the photos of the whole page
    with django_assert_num_queries(3):
        body = api_client.get("/api/listings").json()
    assert len(body["results"]) == how_many
    assert all(r["thumbnail_url"] for r in body["results"])
    with django_assert_num_queries(4):  # + the token
        assert len(user_client.get("/api/listings").json()["results"]) == how_many


@pytest.mark.parametrize("how_many", [1, 20])
def test_my_favorites_is_constant(user, user_client, how_many, django_assert_num_queries):
    for _ in range(how_many):
        FavouriteFactory(user=user, listing=listing_with_photos(2))

    with django_assert_num_queries(4):  # token, count, page, photos
        body = user_client.get("/api/me/favorites").json()

    assert len(body["results"]) == how_many


def test_category_filter_adds_one_query(api_client, django_assert_num_queries):
    listing_with_photos(2)

    # + the slug lookup and the tree walk for descendants
    with django_assert_num_queries(5):
        assert api_client.get("/api/listings?category=other").status_code == 200
