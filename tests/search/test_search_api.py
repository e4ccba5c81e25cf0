"""GET /api/search against a real osmem-server."""

from __future__ import annotations

import pytest

from search.params import SearchParams
from search.selectors import build_search
from tests.search.conftest import index_all, make_listing

pytestmark = pytest.mark.django_db


def search(client, **params):
    response = client.get("/api/search", params)
    assert response.status_code == 200, response.content
    return response.json()


def ids(body) -> list[str]:
    return [r["id"] for r in body["results"]]


def test_typo_in_the_query_still_finds_the_item(api_client, index):
    phone = make_listing(title="iPhone 13 Pro 256GB graphite", category="phones")
    make_listing(title="Wooden dining table", category="furniture")
    index_all()

    body = search(api_client, q="iphnoe")

    assert ids(body) == [str(phone.id)]


def test_chinese_query_finds_chinese_listing(api_client, index):
    bike = make_listing(title="九成新 捷安特 山地自行车", category="bikes")
    make_listing(title="宜家 布艺沙发 三人位", category="furniture")
    index_all()

    assert ids(search(api_client, q="自行车")) == [str(bike.id)]
    assert ids(search(api_client, q="捷安特")) == [str(bike.id)]


def test_cross_language_query_finds_english_listing(api_client, index):
    phone = make_listing(title="Samsung Galaxy S21, unlocked", category="phones")
    make_listing(title="Trek road bike", category="bikes")
    index_all()

    assert ids(search(api_client, q="手机")) == [str(phone.id)]
    assert ids(search(api_client, q="三星")) == [str(phone.id)]


def test_result_shape_matches_the_contract(api_client, index):
    listing = make_listing(
        title="Kindle Paperwhite", category="books", price=45_000, city="Hangzhou"
    )
    index_all()

    body = search(api_client, q="kindle", lat=31.2304, lon=121.4737)

    assert set(body) >= {"results", "total", "facets", "next"}
    (result,) = body["results"]
    assert set(result) >= {
        "id",
        "title",
        "price",
        "thumbnail_url",
        "city",
        "distance_km",
        "highlight",
    }
    assert result["id"] == str(listing.id)
    assert result["price"] == {"amount_minor": 45_000, "currency": "CNY"}
    assert result["city"] == "Hangzhou"
    assert result["distance_km"] == 0.0
    assert "<mark>" in result["highlight"]["title"]


def test_highlight_escapes_html_from_titles(api_client, index):
    make_listing(title="<script>alert(1)</script> lamp", category="furniture")
    index_all()

    (result,) = search(api_client, q="lamp")["results"]

    assert "<script>" not in result["highlight"]["title"]
    assert "&lt;script&gt;" in result["highlight"]["title"]


def test_facets_add_up_to_the_total(api_client, index):
    for i in range(3):
        make_listing(title=f"Road bike {i}", category="bikes", condition="good", price=90_000)
    make_listing(title="Bike helmet", category="sports", condition="new", price=9_000)
    make_listing(title="Kids bike", category="baby", condition="fair", price=30_000)
    index_all()

    body = search(api_client, q="bike")

    assert body["total"] == 5
    for facet in ("category", "condition", "price"):
        assert sum(b["count"] for b in body["facets"][facet]) == 5, facet
    assert {b["key"]: b["count"] for b in body["facets"]["category"]} == {
        "bikes": 3,
        "sports": 1,
        "baby": 1,
    }
    price = {b["key"]: b["count"] for b in body["facets"]["price"]}
    assert price["0-100"] == 1 and price["100-500"] == 1 and price["500-1000"] == 3


def test_facets_are_ordered_and_price_buckets_follow_range_bounds(api_client, index):
    # Given lamps priced on bucket edges (from inclusive, to exclusive)
    make_listing(title="Desk lamp one", category="furniture", condition="good", price=9_999)
    make_listing(title="Desk lamp two", category="furniture", condition="good", price=10_000)
    make_listing(title="Desk lamp three", category="other", condition="new", price=500_000)

    index_all()
    body = search(api_client, q="lamp")

    # Then categories and conditions come by count, and every price bucket is
    # listed in order, empty ones too, with its bounds in minor units
    facets = body["facets"]
    assert [(b["key"], b["count"]) for b in facets["category"]] == [("furniture", 2), ("other", 1)]
    assert facets["category"][0]["name"] == "Furniture"
    assert [(b["key"], b["count"]) for b in facets["condition"]] == [("good", 2), ("new", 1)]
    assert facets["price"] == [
        {"key": "0-100", "count": 1, "to": 10_000},
        {"key": "100-500", "count": 1, "from": 10_000, "to": 50_000},
        {"key": "500-1000", "count": 0, "from": 50_000, "to": 100_000},
        {"key": "1000-5000", "count": 0, "from": 100_000, "to": 500_000},
        {"key": "5000+", "count": 1, "from": 500_000},
    ]


def test_freshness_steps_scale_scores_by_age(index):
    # Given the same listing posted 50, 20 and 1 days ago: one on each side
    # of the 14- and 45-day freshness steps
    old = make_listing(title="Walnut bookshelf", age_days=50)
    middle = make_listing(title="Walnut bookshelf", age_days=20)
    fresh = make_listing(title="Walnut bookshelf", age_days=1)
    index_all()

    response = build_search(SearchParams(q="walnut bookshelf")).execute()

    # Then their scores stand as 1 : 0.92 : 0.92 x 0.88, whichever side of a
    # step the query names
    scores = {hit.meta.id: hit.meta.score for hit in response.hits}
    assert scores[str(middle.id)] / scores[str(fresh.id)] == pytest.approx(0.92, rel=1e-3)
    assert scores[str(old.id)] / scores[str(fresh.id)] == pytest.approx(0.92 * 0.88, rel=1e-3)


def test_category_filter_includes_descendants(api_client, index):
    dress = make_listing(title="Summer dress", category="clothing-women")
    shirt = make_listing(title="Linen shirt", category="clothing-men")
    make_listing(title="Desk lamp", category="furniture")
    index_all()

    body = search(api_client, category="clothing")

    assert set(ids(body)) == {str(dress.id), str(shirt.id)}


def test_condition_price_and_shipping_filters(api_client, index):
    cheap_new = make_listing(title="Camera bag", condition="new", price=5_000, ships=True)
    make_listing(title="Camera body", condition="good", price=300_000, ships=True)
    make_listing(title="Camera lens", condition="new", price=8_000, ships=False)
    index_all()

    body = search(api_client, q="camera", condition="new,like_new", max_price=10_000, ships="true")

    assert ids(body) == [str(cheap_new.id)]


def test_geo_radius_and_distance_sort(api_client, index):
    shanghai = make_listing(title="Sofa A", lat=31.2304, lon=121.4737, city="Shanghai")
    suzhou = make_listing(title="Sofa B", lat=31.2990, lon=120.5853, city="Suzhou")
    make_listing(title="Sofa C", lat=39.9042, lon=116.4074, city="Beijing")
    index_all()

    body = search(api_client, q="sofa", lat=31.2304, lon=121.4737, radius_km=150, sort="distance")

    assert ids(body) == [str(shanghai.id), str(suzhou.id)]
    distances = [r["distance_km"] for r in body["results"]]
    assert distances[0] == 0.0
    assert 80 < distances[1] < 90  # Shanghai - Suzhou is about 84 km


def test_sort_by_price_and_newest(api_client, index):
    a = make_listing(title="Chair A", price=30_000, age_days=3)
    b = make_listing(title="Chair B", price=10_000, age_days=1)
    c = make_listing(title="Chair C", price=20_000, age_days=2)
    index_all()

    assert ids(search(api_client, q="chair", sort="price_asc")) == [str(b.id), str(c.id), str(a.id)]
    assert ids(search(api_client, q="chair", sort="price_desc")) == [
        str(a.id),
        str(c.id),
        str(b.id),
    ]
    assert ids(search(api_client, q="chair", sort="newest")) == [str(b.id), str(c.id), str(a.id)]


def test_phone_ranks_above_its_accessories(api_client, index):
    case = make_listing(title="iPhone 13 case, clear silicone", category="phones", price=3_000)
    phone = make_listing(title="iPhone 13 128GB blue", category="phones", price=320_000)
    index_all()

    assert ids(search(api_client, q="iphone 13"))[:2] == [str(phone.id), str(case.id)]
    assert ids(search(api_client, q="iphone 13 case"))[0] == str(case.id)


def test_cursor_pagination_walks_every_result_once(api_client, index):
    created = {str(make_listing(title=f"Book {i}", category="books").id) for i in range(25)}
    index_all()

    seen: list[str] = []
    body = search(api_client, q="book", page_size=10, sort="newest")
    seen += ids(body)
    while body["next"]:
        response = api_client.get(body["next"])
        assert response.status_code == 200
        body = response.json()
        seen += ids(body)

    assert len(seen) == 25
    assert set(seen) == created


def test_cursor_works_beyond_page_numbers(api_client, index):
    make_listing(title="Vase one")
    make_listing(title="Vase two")
    index_all()
    first = search(api_client, q="vase", page_size=1, sort="newest")

    cursor = first["next"].split("cursor=")[1] if "cursor=" in first["next"] else None
    second = search(
        api_client,
        q="vase",
        page_size=1,
        sort="newest",
        **({"cursor": cursor} if cursor else {"page": 2}),
    )

    assert ids(first) != ids(second)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price": "500", "max_price": "100"}, "max_price"),
        ({"min_price": "cheap"}, "min_price"),
        ({"sort": "distance"}, "sort"),
        ({"sort": "popular"}, "sort"),
        ({"category": "spaceships"}, "category"),
        ({"condition": "mint"}, "condition"),
        ({"lat": "31.2"}, "lon"),
        ({"radius_km": "5"}, "radius_km"),
        ({"lat": "91", "lon": "0"}, "lat"),
        ({"page": "600", "page_size": "20"}, "page"),
        ({"cursor": "%%%"}, "cursor"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(api_client, index, params, field):
    response = api_client.get("/api/search", params)

    assert response.status_code == 400
    assert field in response.json()


def test_search_server_down_is_503_with_a_message(api_client, settings, db):
    from search.client import reset_clients

    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"
    reset_clients()

    response = api_client.get("/api/search", {"q": "bike"})

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "Search is temporarily unavailable" in response.json()["detail"]
    assert api_client.get("/api/search/suggest", {"q": "bi"}).status_code == 503


def test_only_active_listings_are_found(api_client, index):
    active = make_listing(title="Guitar, acoustic")
    from tests.listings.factories import ListingFactory

    ListingFactory(title="Guitar draft", status="draft")
    index_all()

    assert ids(search(api_client, q="guitar")) == [str(active.id)]


def test_search_before_the_first_reindex_is_empty_not_an_error(api_client, search_url):
    response = api_client.get("/api/search", {"q": "bike"})

    assert response.status_code == 200
    assert response.json()["total"] == 0
    assert api_client.get("/api/search/suggest", {"q": "bi"}).json() == []
