"""Creating, reading, editing and listing listings through the REST API."""

from __future__ import annotations

import pytest

from listings import events, viewcounts
from listings.models import Listing
from marketplace.outbox.models import OutboxEvent
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory, category

pytestmark = pytest.mark.django_db


def listing_body(**overrides) -> dict:
    body = {
        "title": "小米 13 手机 256GB",
        "description": "九成新，无划痕。Barely used.",
        "category": "phones",
        "condition": "like_new",
        "price": {"amount_minor": 199_900, "currency": "CNY"},
        "negotiable": True,
        "location": {"lat": 22.54, "lon": 114.06, "city": "深圳"},
        "shipping": {"ships": True, "pickup": True},
        "attributes": {"brand": "Xiaomi", "model": "13", "storage": "256GB", "unlocked": True},
    }
    body.update(overrides)
    return body


# --- create ---------------------------------------------------------------------------------------


def test_create_answers_201_draft_in_the_get_shape(user, user_client):
    response = user_client.post("/api/listings", listing_body(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    listing = Listing.objects.get(pk=body["id"])
    assert body["status"] == "draft"
    assert body["price"] == {"amount_minor": 199_900, "currency": "CNY"}
    assert body["location"] == {"lat": 22.54, "lon": 114.06, "city": "深圳"}
    assert body["shipping"] == {"ships": True, "pickup": True}
    assert body["attributes"] == {"brand": "Xiaomi", "model": "13", "storage": "256GB",
                                  "unlocked": True}
    assert body["seller"] == {"id": str(user.id), "username": user.username,
                              "display_name": user.display_name}
    assert body["photos"] == [] and body["is_favorite"] is False
    assert listing.seller == user and listing.price_minor == 199_900
    assert body == user_client.get(f"/api/listings/{listing.id}").json()
    assert OutboxEvent.objects.get().topic == events.LISTING_CREATED


def test_anonymous_cannot_create(api_client, db):
    response = api_client.post("/api/listings", listing_body(), format="json")

    assert response.status_code == 401
    assert not Listing.objects.exists()


def test_draft_may_be_incomplete_but_types_are_checked(user_client):
    response = user_client.post("/api/listings", listing_body(
        attributes={"brand": "Apple"}, location=None, shipping={"ships": False, "pickup": False},
    ), format="json")

    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("title", "ab", "Enter 3 to 120 characters."),
    ("title", "x" * 121, "Ensure this field has no more than 120 characters."),
    ("description", "x" * 5001, "Ensure this field has no more than 5000 characters."),
    ("condition", "mint", '"mint" is not a valid choice.'),
    ("category", "spaceships", "Unknown category 'spaceships'."),
    ("price", {"amount_minor": 0, "currency": "CNY"}, "The price must be more than zero."),
    ("price", {"amount_minor": 1000, "currency": "USD"},
     "Prices on this marketplace are in CNY, not USD."),
    ("location", {"lat": 91, "lon": 0, "city": "Nowhere"}, "lat: must be between -90 and 90."),
    ("location", {"lat": 10, "lon": -181, "city": "Nowhere"},
     "lon: must be between -180 and 180."),
    ("location", {"lat": 10, "city": "Half"}, "Give both lat and lon, or neither."),
])
def test_bad_field_is_400_with_a_message_for_that_field(user_client, field, value, message):
    response = user_client.post("/api/listings", listing_body(**{field: value}), format="json")

    assert response.status_code == 400
    body = response.json()
    messages = body[field] if isinstance(body[field], list) else sum(body[field].values(), [])
    assert message in messages
    assert not Listing.objects.exists()


def test_negative_price_and_unknown_currency_are_400(user_client):
    for price in ({"amount_minor": -5, "currency": "CNY"}, {"amount_minor": 5, "currency": "XXX"},
                  {"amount_minor": 1.5, "currency": "CNY"}, "12.50"):
        response = user_client.post("/api/listings", listing_body(price=price), format="json")
        assert response.status_code == 400, price
        assert "price" in response.json()


def test_several_bad_fields_are_all_reported(user_client):
    response = user_client.post("/api/listings", listing_body(
        title="no", price={"amount_minor": 100, "currency": "EUR"},
    ), format="json")

    assert response.status_code == 400
    assert {"title", "price"} <= set(response.json())


def test_garbage_body_is_400_not_500(user_client):
    for body in ([], "text", {"attributes": [1, 2]}, {"location": "Shanghai"}):
        response = user_client.post("/api/listings", body, format="json")
        assert response.status_code == 400, body


def test_idempotency_key_returns_the_first_listing(user_client, user):
    first = user_client.post("/api/listings", listing_body(), format="json",
                             HTTP_IDEMPOTENCY_KEY="create-123")
    again = user_client.post("/api/listings", listing_body(), format="json",
                             HTTP_IDEMPOTENCY_KEY="create-123")
    other = user_client.post("/api/listings", listing_body(), format="json",
                             HTTP_IDEMPOTENCY_KEY="create-456")

    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert Listing.objects.filter(seller=user).count() == 2


def test_idempotency_keys_are_per_user(user_client, other_client):
    a = user_client.post("/api/listings", listing_body(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    b = other_client.post("/api/listings", listing_body(), format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert a.json()["id"] != b.json()["id"]


# --- attributes per category ----------------------------------------------------------------------

@pytest.mark.parametrize(("slug", "attributes", "message"), [
    ("phones", {"storage": "100GB"}, "storage: must be one of"),
    ("phones", {"brand": "Nokla"}, "brand: must be one of"),
    ("phones", {"unlocked": "maybe"}, "unlocked: expected true or false."),
    ("phones", {"size": "M"}, "size: not an attribute of category phones"),
    ("phones", {"model": 13}, "model: expected text."),
    ("bikes", {"wheel_size": "large"}, "wheel_size: expected a whole number."),
    ("bikes", {"wheel_size": 40}, "wheel_size: must be at most 29."),
    ("bikes", {"wheel_size": 26.5}, "wheel_size: expected a whole number."),
    ("bikes", {"frame_size": "XXL"}, "frame_size: must be one of XS, S, M, L, XL."),
    ("clothing", {"size": "huge"}, "size: must be one of"),
    ("clothing-women", {"type": "suit"}, "type: must be one of"),
    ("clothing-men", {"storage": "64GB"}, "storage: not an attribute of category clothing-men"),
    ("shoes", {"size_eu": 70}, "size_eu: must be at most 52."),
    ("other", {"anything": "x"}, "anything: not an attribute of category other (known: none)."),
])
def test_attributes_are_checked_against_the_category_schema(user_client, slug, attributes,
                                                             message):
    response = user_client.post(
        "/api/listings", listing_body(category=slug, attributes=attributes), format="json"
    )

    assert response.status_code == 400
    assert any(m.startswith(message) for m in response.json()["attributes"]), response.json()
    assert not Listing.objects.exists()


@pytest.mark.parametrize(("slug", "attributes"), [
    ("phones", {"brand": "Apple", "model": "iPhone 14", "storage": "128GB", "unlocked": False}),
    ("bikes", {"type": "road", "frame_size": "L", "wheel_size": "28"}),
    ("clothing-women", {"size": "M", "type": "dress", "brand": "COS"}),  # inherits size/brand
    ("clothing-men", {"size": "XL", "type": "suit"}),
    ("shoes", {"size_eu": 42, "gender": "men"}),
    ("books", {"language": "zh", "author": "余华"}),
    ("furniture", {"type": "sofa", "material": "fabric", "width_cm": 210}),
])
def test_valid_attributes_publish_per_category(user_client, slug, attributes):
    created = user_client.post(
        "/api/listings", listing_body(category=slug, attributes=attributes), format="json"
    )
    assert created.status_code == 201, created.json()

    published = user_client.post(f"/api/listings/{created.json()['id']}/publish")

    assert published.status_code == 200, published.json()
    assert published.json()["status"] == "active"
    if slug == "bikes":
        assert published.json()["attributes"]["wheel_size"] == 28  # "28" from a form, stored int


def test_subcategory_requires_the_inherited_required_attribute(user_client):
    created = user_client.post("/api/listings", listing_body(
        category="clothing-women", attributes={"type": "dress"}), format="json")

    response = user_client.post(f"/api/listings/{created.json()['id']}/publish")

    assert response.status_code == 400
    assert response.json()["attributes"] == ["size: required for this category."]


def test_changing_category_rechecks_the_attributes(user, user_client):
    listing = ListingFactory(seller=user, category=category("phones"),
                             attributes={"brand": "Apple", "model": "X", "storage": "64GB"})

    response = user_client.patch(f"/api/listings/{listing.id}", {"category": "bikes"},
                                 format="json")

    assert response.status_code == 400
    assert any(m.startswith("model: not an attribute of category bikes")
               for m in response.json()["attributes"])
    ok = user_client.patch(f"/api/listings/{listing.id}", {
        "category": "bikes", "attributes": {"type": "road", "frame_size": "M"}}, format="json")
    assert ok.status_code == 200
    assert ok.json()["category"] == "bikes"


# --- edit -----------------------------------------------------------------------------------------


def test_patch_changes_only_given_fields_and_announces_them(user, user_client):
    listing = ListingFactory(seller=user, active=True, title="Old lamp")

    response = user_client.patch(f"/api/listings/{listing.id}", {
        "title": "Vintage desk lamp", "negotiable": True}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["negotiable"], body["status"]) == ("Vintage desk lamp", True,
                                                                    "active")
    assert body["description"] == listing.description
    event = OutboxEvent.objects.get(topic=events.LISTING_UPDATED)
    assert event.payload["changed"] == ["title", "negotiable"]


def test_patch_without_changes_writes_no_event(user, user_client):
    listing = ListingFactory(seller=user, title="Same title")

    response = user_client.patch(f"/api/listings/{listing.id}", {"title": "Same title"},
                                 format="json")

    assert response.status_code == 200
    assert not OutboxEvent.objects.exists()


def test_active_listing_cannot_lose_a_required_attribute(user, user_client):
    listing = ListingFactory(seller=user, active=True, category=category("bikes"),
                             attributes={"type": "road", "frame_size": "M"})

    response = user_client.patch(f"/api/listings/{listing.id}",
                                 {"attributes": {"type": "road"}}, format="json")

    assert response.status_code == 400
    assert response.json()["attributes"] == ["frame_size: required for this category."]
    listing.refresh_from_db()
    assert listing.attributes == {"type": "road", "frame_size": "M"}


def test_patch_rejects_bad_values_and_keeps_the_listing(user, user_client):
    listing = ListingFactory(seller=user, title="Good title")

    response = user_client.patch(f"/api/listings/{listing.id}", {
        "title": "x", "price": {"amount_minor": 100, "currency": "JPY"}}, format="json")

    assert response.status_code == 400
    listing.refresh_from_db()
    assert listing.title == "Good title" and listing.price_currency == "CNY"


# --- read -----------------------------------------------------------------------------------------


def test_detail_has_every_contract_field(user, api_client):
    listing = ListingFactory(seller=user, active=True)

    body = api_client.get(f"/api/listings/{listing.id}").json()

    assert set(body) == {
        "id", "title", "description", "category", "condition", "price", "negotiable",
        "location", "shipping", "attributes", "status", "seller", "photos", "view_count",
        "favorites_count", "is_favorite", "created_at", "updated_at", "published_at",
        "expires_at",
    }


def test_fraud_hold_only_for_seller_and_moderators(user, user_client, other_client,
                                                  moderator_client, api_client):
    listing = ListingFactory(seller=user, active=True, fraud_score=0.31, fraud_reasons=["new"])
    url = f"/api/listings/{listing.id}"

    assert user_client.get(url).json()["fraud_hold"] == {"score": 0.31, "reasons": ["new"]}
    assert moderator_client.get(url).json()["fraud_hold"]["score"] == 0.31
    assert "fraud_hold" not in other_client.get(url).json()
    assert "fraud_hold" not in api_client.get(url).json()


def test_views_are_counted_except_the_sellers_own(user, user_client, other_client, api_client):
    listing = ListingFactory(seller=user, active=True)
    url = f"/api/listings/{listing.id}"

    assert api_client.get(url).json()["view_count"] == 1
    assert other_client.get(url).json()["view_count"] == 2
    assert user_client.get(url).json()["view_count"] == 2
    listing.refresh_from_db()
    assert listing.view_count == 0  # buffered in Redis: the read committed nothing

    assert viewcounts.flush_view_counts() >= 1
    listing.refresh_from_db()
    assert listing.view_count == 2
    assert api_client.get(url).json()["view_count"] == 3  # stored 2 + buffered 1
    assert viewcounts.flush_view_counts() >= 1
    assert viewcounts.flush_view_counts() == 0  # nothing counted twice
    listing.refresh_from_db()
    assert listing.view_count == 3


def test_views_are_counted_in_the_database_while_redis_is_down(settings, api_client):
    listing = ListingFactory(active=True)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    assert api_client.get(f"/api/listings/{listing.id}").json()["view_count"] == 1
    assert api_client.get(f"/api/listings/{listing.id}").json()["view_count"] == 2
    listing.refresh_from_db()
    assert listing.view_count == 2


def test_views_without_the_buffer_are_written_at_once(settings, api_client):
    listing = ListingFactory(active=True)
    settings.LISTINGS_VIEW_BUFFER = False

    assert api_client.get(f"/api/listings/{listing.id}").json()["view_count"] == 1
    listing.refresh_from_db()
    assert listing.view_count == 1


@pytest.mark.parametrize("bad_id", ["nope", "00000000-0000-0000-0000-000000000000", "1"])
def test_unknown_or_malformed_id_is_404(api_client, db, bad_id):
    response = api_client.get(f"/api/listings/{bad_id}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- list -----------------------------------------------------------------------------------------


def test_list_defaults_to_active_listings_newest_first(api_client, user):
    older = ListingFactory(seller=user, active=True)
    newer = ListingFactory(seller=user, active=True)
    for state in ("draft", "pending_review", "withdrawn", "expired", "reserved", "sold"):
        ListingFactory(seller=user, status=state)
    Listing.objects.filter(pk=older.pk).update(published_at=newer.published_at.replace(year=2020))

    body = api_client.get("/api/listings").json()

    assert [r["id"] for r in body["results"]] == [str(newer.id), str(older.id)]
    assert body["count"] == 2 and body["next"] is None


def test_list_is_paginated(api_client, user):
    ListingFactory.create_batch(25, seller=user, active=True)

    first = api_client.get("/api/listings").json()
    second = api_client.get(first["next"]).json()

    assert len(first["results"]) == 20 and len(second["results"]) == 5
    assert first["count"] == 25
    assert {r["id"] for r in first["results"]}.isdisjoint(r["id"] for r in second["results"])


def test_seller_me_lists_my_listings_in_every_state(user, user_client):
    mine = [ListingFactory(seller=user, status=s) for s in ("draft", "active", "withdrawn")]
    ListingFactory(active=True)

    body = user_client.get("/api/listings?seller=me").json()

    assert {r["id"] for r in body["results"]} == {str(listing.id) for listing in mine}
    drafts = user_client.get("/api/listings?seller=me&status=draft").json()
    assert [r["id"] for r in drafts["results"]] == [str(mine[0].id)]


def test_seller_filter_shows_others_public_listings_only(user, api_client):
    active = ListingFactory(seller=user, active=True)
    ListingFactory(seller=user, status="draft")

    body = api_client.get(f"/api/listings?seller={user.id}").json()

    assert [r["id"] for r in body["results"]] == [str(active.id)]


def test_private_status_filter_on_others_listings_is_400(user, other_client, api_client):
    ListingFactory(seller=user, status="draft")

    for client in (other_client, api_client):
        response = client.get(f"/api/listings?seller={user.id}&status=draft")
        assert response.status_code == 400
        assert "status" in response.json()
    assert other_client.get("/api/listings?status=withdrawn").status_code == 400


def test_moderator_may_filter_any_status(user, moderator_client):
    held = ListingFactory(seller=user, status="pending_review")

    body = moderator_client.get("/api/listings?status=pending_review").json()

    assert [r["id"] for r in body["results"]] == [str(held.id)]


def test_public_statuses_can_be_filtered_by_anyone(user, api_client):
    sold = ListingFactory(seller=user, status="sold")
    ListingFactory(seller=user, active=True)

    body = api_client.get("/api/listings?status=sold").json()

    assert [r["id"] for r in body["results"]] == [str(sold.id)]


def test_category_filter_includes_subcategories(api_client):
    women = ListingFactory(active=True, category=category("clothing-women"))
    men = ListingFactory(active=True, category=category("clothing-men"))
    ListingFactory(active=True, category=category("phones"))

    clothing = api_client.get("/api/listings?category=clothing").json()
    only_men = api_client.get("/api/listings?category=clothing-men").json()

    assert {r["id"] for r in clothing["results"]} == {str(women.id), str(men.id)}
    assert [r["id"] for r in only_men["results"]] == [str(men.id)]


@pytest.mark.parametrize("query", ["seller=abc", "status=bogus", "category=spaceships"])
def test_bad_filters_are_400(api_client, db, query):
    response = api_client.get(f"/api/listings?{query}")

    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_seller_me_needs_login(api_client, db):
    assert api_client.get("/api/listings?seller=me").status_code == 401


def test_summary_shape(api_client):
    listing = ListingFactory(active=True)

    result = api_client.get("/api/listings").json()["results"][0]

    assert result["id"] == str(listing.id)
    assert set(result) == {
        "id", "title", "category", "condition", "price", "negotiable", "location", "shipping",
        "status", "seller", "thumbnail_url", "photo_count", "favorites_count", "is_favorite",
        "created_at", "published_at", "expires_at",
    }
    assert "description" not in result


# --- categories -----------------------------------------------------------------------------------


def test_categories_endpoint_lists_the_tree_with_inherited_attributes(api_client, db):
    response = api_client.get("/api/categories")

    assert response.status_code == 200
    body = response.json()
    by_slug = {c["slug"]: c for c in body}
    assert {"phones", "laptops", "tablets", "cameras", "bikes", "furniture", "clothing",
            "clothing-women", "clothing-men", "shoes", "books", "toys", "home-appliances",
            "sports", "musical-instruments", "baby", "other"} <= set(by_slug)
    assert set(body[0]) >= {"slug", "name", "parent", "attributes"}
    assert by_slug["phones"]["parent"] is None
    assert by_slug["clothing-women"]["parent"] == "clothing"
    assert by_slug["clothing-women"]["name_zh"] == "女装"
    names = [a["name"] for a in by_slug["clothing-women"]["attributes"]]
    assert names == ["size", "brand", "color", "type"]
    storage = next(a for a in by_slug["phones"]["attributes"] if a["name"] == "storage")
    assert storage["type"] == "choice" and storage["required"] is True
    assert "128GB" in storage["choices"]
    assert all(set(a) >= {"name", "type", "choices", "required"}
               for c in body for a in c["attributes"])
    # Parents come before their children.
    slugs = [c["slug"] for c in body]
    assert slugs.index("clothing") < slugs.index("clothing-women")


def test_categories_are_public_and_cheap(api_client, db, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert api_client.get("/api/categories").status_code == 200


def test_new_user_can_sell_from_the_first_day(api_client, db):
    fresh = UserFactory()
    from tests.conftest import client_for

    client = client_for(fresh)
    created = client.post("/api/listings", listing_body(), format="json").json()

    assert client.post(f"/api/listings/{created['id']}/publish").json()["status"] == "active"


# --- the single-statement detail read ------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "seller", "other", "moderator"])
@pytest.mark.parametrize("state", ["active", "draft", "sold"])
def test_fast_detail_read_equals_the_orm_read(user, other_user, moderator, who, state):
    """The PostgreSQL one-statement read and the ORM read (used on SQLite) give
    the same answer and apply the same access rules."""
    from django.contrib.auth.models import AnonymousUser

    from listings import services
    from marketplace.errors import NotFound
    from tests.listings.factories import FavouriteFactory, PhotoFactory

    listing = ListingFactory(seller=user, status=state, fraud_score=0.2, fraud_reasons=["x"],
                             attributes={"colour": "red"})
    for position in range(3):
        PhotoFactory(listing=listing, position=position)
    PhotoFactory(listing=listing, position=3, thumbnail="", medium="")
    if state == "active":
        FavouriteFactory(user=other_user, listing=listing)
    viewer = {"anonymous": AnonymousUser(), "seller": user, "other": other_user,
              "moderator": moderator}[who]

    def read(path):
        try:
            return path(listing.id, viewer, False)
        except NotFound:
            return "404"

    fast, orm = read(services._listing_view_sql), read(services._listing_view_orm)

    assert fast == orm
    if state == "draft" and who in ("anonymous", "other"):
        assert fast == "404"
    else:
        assert [p.position for p in fast.photos] == [0, 1, 2, 3]
        assert (fast.fraud_hold is not None) == (who in ("seller", "moderator"))


def test_hidden_listing_counter_is_never_touched(user, other_client, moderator_client, user_client):
    draft = ListingFactory(seller=user, status="draft")

    assert other_client.get(f"/api/listings/{draft.id}").status_code == 404
    assert moderator_client.get(f"/api/listings/{draft.id}").status_code == 200
    assert user_client.get(f"/api/listings/{draft.id}").status_code == 200

    draft.refresh_from_db()
    assert draft.view_count == 0


def test_actions_do_not_count_as_views(user, other_client):
    listing = ListingFactory(active=True)

    other_client.post(f"/api/listings/{listing.id}/favorite")
    other_client.delete(f"/api/listings/{listing.id}/favorite")

    listing.refresh_from_db()
    assert listing.view_count == 0


def test_detail_statement_is_prepared_once_per_connection(api_client):
    from django.db import connection

    listing = ListingFactory(active=True)
    for _ in range(3):
        assert api_client.get(f"/api/listings/{listing.id}").status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%WITH bump AS%"])
        assert cursor.fetchone()[0] == 1


def test_detail_without_prepared_statements_is_the_same(api_client, settings):
    listing = ListingFactory(active=True)
    prepared = api_client.get(f"/api/listings/{listing.id}").json()

    settings.LISTINGS_PREPARED_STATEMENTS = False  # e.g. behind a transaction-mode pooler
    plain = api_client.get(f"/api/listings/{listing.id}").json()

    assert plain["view_count"] == prepared["view_count"] + 1
    assert {**plain, "view_count": 0} == {**prepared, "view_count": 0}


@pytest.mark.parametrize("path", ["/api/listings", "/api/listings/{id}", "/api/categories",
                                  "/api/me/favorites", "/api/listings/{id}/publish"])
def test_browsable_api_pages_render(user, user_client, path):
    """Outside production the HTML renderer is on; its forms must not crash."""
    listing = ListingFactory(seller=user, active=True)

    response = user_client.get(path.format(id=listing.id), HTTP_ACCEPT="text/html")

    assert response.status_code in (200, 405)
    assert response["Content-Type"].startswith("text/html")
