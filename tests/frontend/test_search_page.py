"""The search page over a real osmem-server: query, typo, facet, price filter, sort, pages."""

from __future__ import annotations

import pytest
from django.test import Client

from search import indexing
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(search_url, settings, seller):
    from listings.models import Category

    settings.SEARCH_REFRESH_ON_WRITE = True
    bikes, phones = Category.objects.get(slug="bikes"), Category.objects.get(slug="phones")
    for i in range(23):
        ListingFactory(seller=seller, active=True, category=bikes, title=f"Bicycle number {i}",
                       price_minor=10_000 + i * 1_000,
                       attributes={"type": "city", "frame_size": "M"})
    ListingFactory(seller=seller, active=True, category=phones, title="Bicycle phone holder",
                   price_minor=5_000,
                   attributes={"brand": "Other", "model": "x", "storage": "16GB"})
    indexing.reindex()


def test_misspelled_query_finds_listings_with_facets_and_pages(catalogue):
    response = Client().get("/search/", {"q": "bicyle"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-testid="search-result"') == 20
    assert "24 listings" in html
    assert 'data-testid="category-facet"' in html and "Bikes (23)" in html
    assert 'rel="next"' in html and "page=2" in html
    second = Client().get("/search/", {"q": "bicyle", "page": 2}).content.decode()
    assert second.count('data-testid="search-result"') == 4 and 'rel="prev"' in second


def test_category_and_price_filters_in_major_units_and_sort(catalogue):
    html = Client().get("/search/", {
        "q": "bicycle", "category": "bikes", "min_price_major": "120",
        "max_price_major": "140.00", "sort": "price_desc",
    }).content.decode()
    titles = [part.split("<")[0] for part in html.split('<span class="title">')[1:]]
    # prices are 100 + 10·i yuan: 120-140 holds i = 2, 3, 4, highest first
    assert titles == ["Bicycle number 4", "Bicycle number 3", "Bicycle number 2"]


def test_bad_filters_answer_400_with_the_reason(catalogue):
    response = Client().get("/search/", {"min_price_major": "abc", "sort": "sideways"})
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_search_server_down_answers_503_page(settings):
    from search.client import reset_clients

    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"
    reset_clients()
    response = Client().get("/search/", {"q": "bike"})
    assert response.status_code == 503
    assert "Search is unavailable" in response.content.decode()


def test_near_a_city_shows_distances_and_sorts_nearest_first(catalogue, seller):
    from listings.models import Category

    ListingFactory(seller=seller, active=True, category=Category.objects.get(slug="bikes"),
                   title="Bicycle in Beijing", location_lat=39.9042, location_lon=116.4074,
                   location_city="Beijing", attributes={"type": "city", "frame_size": "M"})
    indexing.reindex()
    html = Client().get("/search/", {"q": "bicycle", "near": "Beijing", "sort": "distance"}
                        ).content.decode()
    first = html.split('data-testid="search-result"')[1]
    assert "Bicycle in Beijing" in first and "0.0 km away" in first
    assert "1067" in html or "1068" in html  # Shanghai is about 1,068 km from Beijing


def test_home_shows_listings_near_the_users_city(catalogue, buyer_client):
    html = buyer_client.get("/").content.decode()  # the buyer lives in Shanghai
    assert "Near you in Shanghai" in html and 'data-testid="search-result"' in html
