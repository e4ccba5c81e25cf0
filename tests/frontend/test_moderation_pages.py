"""Report a listing; the moderator's queue, case page with evidence, decision
and audit log; nobody else can see those pages."""

from __future__ import annotations

import pytest
from django.test import Client

from listings.models import Listing
from moderation import services as moderation
from moderation.models import Case
from tests.factories import UserFactory
from tests.frontend.conftest import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator_client():
    user = UserFactory(username="mia")
    moderation.moderator_add(user=user)
    return logged_in(type(user).objects.get(pk=user.pk))


def test_report_a_listing_then_a_moderator_removes_it(listing, buyer_client, moderator_client):
    report = {"reason": "scam", "details": "Asks for a deposit by bank transfer"}
    response = buyer_client.post(f"/items/{listing.pk}/report/", report,
                                 HTTP_REFERER=f"/items/{listing.pk}/")
    assert response.status_code == 302
    case = Case.objects.get(listing_id=listing.pk)

    queue = moderator_client.get("/moderation/").content.decode()
    assert 'data-testid="case-row"' in queue and "Giant road bike" in queue
    page = moderator_client.get(f"/moderation/cases/{case.pk}/").content.decode()
    assert "Asks for a deposit" in page and 'data-testid="case-listing"' in page

    response = moderator_client.post(f"/moderation/cases/{case.pk}/",
                                     {"action": "remove", "note": "Deposit scam"})
    assert response.status_code == 302
    listing.refresh_from_db()
    assert listing.status != "active"
    assert "Deposit scam" in moderator_client.get("/moderation/audit/").content.decode()


def test_a_bad_decision_comes_back_with_the_reason(listing, buyer, moderator_client):
    moderation.report_submit(reporter=buyer, target_type="listing", target_id=listing.pk,
                             reason="spam")
    case = Case.objects.get(listing_id=listing.pk)
    response = moderator_client.post(f"/moderation/cases/{case.pk}/", {"action": "explode"},
                                     HTTP_REFERER=f"/moderation/cases/{case.pk}/")
    assert response.status_code == 302
    assert Listing.objects.get(pk=listing.pk).status == "active"


def test_moderation_pages_do_not_exist_for_others(listing, buyer, buyer_client):
    moderation.report_submit(reporter=buyer, target_type="listing", target_id=listing.pk,
                             reason="spam")
    case = Case.objects.get(listing_id=listing.pk)
    for url in ("/moderation/", "/moderation/audit/", f"/moderation/cases/{case.pk}/"):
        assert buyer_client.get(url).status_code == 404
        assert Client().get(url).status_code == 302  # to the login page
    assert buyer_client.post(f"/moderation/cases/{case.pk}/", {"action": "remove"}
                             ).status_code == 404
    assert Listing.objects.get(pk=listing.pk).status == "active"
