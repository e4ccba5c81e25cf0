"""Seller, operator and moderator dashboards: the JSON API and the pages,
who may see them, and that each seller sees only their own listings."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat import services as chat_services
from frontend.views_dashboards import OpsDashboardSerializer, SellerDashboardSerializer
from marketplace.analytics import services as analytics_services
from marketplace.analytics.models import Event
from moderation import services as moderation
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.frontend.conftest import logged_in
from tests.listings.factories import ListingFactory
from trust import escrow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_event_buffer():
    analytics_services.flush_events()
    Event.objects.all().delete()


@pytest.fixture
def staff(db):
    return UserFactory(username="olga", is_staff=True)


@pytest.fixture
def sold(listing, buyer, django_capture_on_commit_callbacks):
    """A real sale through the services: the buyer views, chats, pays; the
    events reach the log the way they do in production (outbox handlers after
    commit, the buffer, then the flush)."""
    analytics_services.track("listing_viewed", user=buyer, listing_id=listing.pk)
    with django_capture_on_commit_callbacks(execute=True):
        conversation, _ = chat_services.conversation_start(listing_id=listing.pk, buyer=buyer)
        chat_services.message_send(conversation=conversation, sender=buyer, body="Still there?",
                                   client_id="c1")
        order = escrow.order_create(buyer=buyer, listing_id=listing.pk)
        order = escrow.order_pay(order=order, buyer=buyer, payment_method="card_ok",
                                 idempotency_key="k1")
    analytics_services.flush_events()
    return order


def _chart_data(html: str) -> list[dict]:
    match = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html,
                      re.S)
    assert match, "the page carries its chart data"
    return json.loads(match.group(1))


# --- seller -------------------------------------------------------------------------------------


def test_seller_api_reports_own_listings_with_daily_series(sold, listing, seller, buyer):
    other = ListingFactory(active=True, title="Someone else's lamp")
    analytics_services.track("listing_viewed", user=buyer, listing_id=other.pk)
    analytics_services.flush_events()

    response = client_for(seller).get("/api/me/dashboard?days=7")

    assert response.status_code == 200
    body = response.json()
    assert body["window"]["days"] == 7 and len(body["dates"]) == 7
    assert body["totals"] == {"views": 1, "favourites": 0, "conversations": 1, "offers": 0,
                              "sales": 1}
    assert body["daily"]["sales"] == [0] * 6 + [1]
    assert [row["title"] for row in body["listings"]] == ["Giant road bike"]
    assert body["listings"][0]["views"] == 1 and body["listings"][0]["sales"] == 1
    assert body["orders"]["paid_orders"] == 1
    assert body["orders"]["paid_value"] == {"amount_minor": 123_450, "currency": "CNY"}
    assert body["response"]["conversations"] == 1 and body["response"]["answered"] == 0
    # the OpenAPI description names exactly these fields
    described = SellerDashboardSerializer().fields
    assert set(body) == set(described)
    assert set(body["listings"][0]) == set(described["listings"].child.fields)


def test_buyer_sees_none_of_the_sellers_figures(sold, buyer):
    body = client_for(buyer).get("/api/me/dashboard").json()
    assert body["listings"] == []
    assert body["totals"] == dict.fromkeys(body["totals"], 0)
    assert body["orders"]["paid_orders"] == 0


def test_seller_api_answers_401_to_anonymous_and_400_to_a_bad_window(seller):
    assert Client().get("/api/me/dashboard").status_code == 401
    for bad in ("0", "abc", "1000"):
        response = client_for(seller).get(f"/api/me/dashboard?days={bad}")
        assert response.status_code == 400
        assert "whole number" in response.json()["days"][0]


def test_seller_page_renders_cards_charts_and_listing_rows(sold, seller_client, buyer_client):
    html = seller_client.get("/me/dashboard/").content.decode()
    assert '<p class="big price" data-testid="sales-count">1</p>' in html
    assert '<p class="big price" data-testid="conversations-count">1</p>' in html
    assert "Giant road bike" in html and 'data-testid="listing-rows"' in html
    charts = _chart_data(html)
    assert [c["id"] for c in charts] == ["chart-views", "chart-interest"]
    assert charts[0]["series"][0]["values"][-1] == 1 and len(charts[0]["x"]) == 30
    assert html.count('data-testid="chart-svg"') == 2  # the no-script fallback
    assert "vendor/uplot/uPlot.iife.min.js" in html and "frontend/js/charts.js" in html
    other = buyer_client.get("/me/dashboard/").content.decode()
    assert '<p class="big price" data-testid="sales-count">0</p>' in other
    assert "Giant road bike" not in other
    assert Client().get("/me/dashboard/").status_code == 302


def test_seller_page_shows_reply_time_and_rate(listing, buyer, seller, seller_client):
    conversation, _ = chat_services.conversation_start(listing_id=listing.pk, buyer=buyer)
    chat_services.message_send(conversation=conversation, sender=buyer, body="Hi", client_id="b1")
    chat_services.message_send(conversation=conversation, sender=seller, body="Hello",
                               client_id="s1")
    html = seller_client.get("/me/dashboard/?days=7").content.decode()
    assert '<p class="big price" data-testid="response-time">0 s</p>' in html
    assert '<p class="big price" data-testid="response-rate">100.0 %</p>' in html
    assert 'aria-current="page">Last 7 days' in html


def test_dashboard_page_with_a_bad_window_is_a_400_with_the_reason(seller_client):
    response = seller_client.get("/me/dashboard/?days=-1")
    assert response.status_code == 400
    assert "whole number" in response.content.decode()


# --- operator -----------------------------------------------------------------------------------


def test_ops_api_is_for_staff_only(staff, seller):
    assert Client().get("/api/ops/dashboard").status_code == 401
    assert client_for(seller).get("/api/ops/dashboard").status_code == 403
    response = client_for(staff).get("/api/ops/dashboard?days=30")
    assert response.status_code == 200
    assert set(response.json()) == set(OpsDashboardSerializer().fields) >= {
        "gmv", "gmv_daily", "orders", "funnel", "users", "listings", "failed_searches",
        "dispute_rate", "fraud_hold_rate",
    }


def test_ops_api_figures_follow_a_real_sale(sold, staff):
    body = client_for(staff).get("/api/ops/dashboard?days=7").json()
    assert body["gmv"] == {"amount_minor": 123_450, "currency": "CNY"}
    assert body["gmv_daily"][-1] == 123_450
    assert body["orders"]["daily_by_status"] == {"paid": [0] * 6 + [1]}
    stages = {s["stage"]: s["users"] for s in body["funnel"]["stages"]}
    assert stages == {"view": 1, "chat": 1, "order": 1, "completed": 0}
    assert body["listings"]["by_status"]["reserved"] == 1
    assert body["dispute_rate"] == 0.0
    assert body["users"]["active"] == 1  # the buyer


def test_ops_page_refuses_others_and_draws_for_staff(sold, staff, seller_client):
    anonymous = Client().get("/ops/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert seller_client.get("/ops/").status_code == 403
    analytics_services.track("searched", props={"q": "unicycle", "results": 0})
    analytics_services.flush_events()

    html = logged_in(staff).get("/ops/").content.decode()

    charts = _chart_data(html)
    assert [c["id"] for c in charts] == ["chart-gmv", "chart-orders"]
    assert charts[0]["currency"] == "CNY" and charts[0]["series"][0]["values"][-1] == 1234.5
    assert "¥1,234.50" in html and 'data-testid="funnel"' in html
    assert "unicycle" in html
    assert 'href="/ops/"' in html  # staff find it in the header
    assert 'href="/ops/"' not in seller_client.get("/me/dashboard/").content.decode()


# --- moderation ---------------------------------------------------------------------------------


def test_moderation_dashboard_is_for_moderators_and_linked_from_the_queue(seller_client):
    mia = UserFactory(username="mia")
    moderation.moderator_add(user=mia)
    client = logged_in(type(mia).objects.get(pk=mia.pk))
    assert "/moderation/dashboard/" in client.get("/moderation/").content.decode()

    html = client.get("/moderation/dashboard/?days=30").content.decode()

    assert [c["id"] for c in _chart_data(html)] == ["chart-cases"]
    assert 'data-testid="queue-size"' in html and 'data-testid="sla-breaches"' in html
    assert seller_client.get("/moderation/dashboard/").status_code == 404
    assert Client().get("/moderation/dashboard/").status_code == 302


def test_moderation_dashboard_counts_a_reported_case(listing, buyer):
    from moderation.models import Case

    moderation.report_submit(reporter=buyer, target_type="listing", target_id=listing.pk,
                             reason="scam", details="asks for a deposit")
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(sla_due_at=timezone.now() - timedelta(hours=1))
    mia = UserFactory(username="mia")
    moderation.moderator_add(user=mia)

    client = logged_in(type(mia).objects.get(pk=mia.pk))
    html = client.get("/moderation/dashboard/").content.decode()

    assert '<p class="big price" data-testid="cases-opened">1</p>' in html
    assert '<p class="big price" data-testid="sla-open">1</p>' in html
    assert _chart_data(html)[0]["series"][0]["values"][-1] == 1
