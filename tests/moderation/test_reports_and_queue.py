"""Reports merge, the queue is ordered by priority, and only moderators see it."""

from __future__ import annotations

import pytest

from moderation import services
from moderation.models import AuditLog, Case, Report
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from tests.moderation.conftest import report

pytestmark = pytest.mark.django_db


def test_report_opens_one_case_and_a_repeat_report_by_the_same_user_merges(listing):
    reporter = UserFactory()
    client = client_for(reporter)

    first = report(client, "listing", listing.id, "scam", "Asks for bank transfer")
    again = report(client, "listing", listing.id, "counterfeit", "Looks fake too")

    assert first.status_code == 201, first.content
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Report.objects.count() == 1
    merged = Report.objects.get()
    assert merged.reason == "counterfeit" and merged.times_reported == 2
    assert "bank transfer" in merged.details and "fake too" in merged.details
    case = Case.objects.get()
    assert case.reporter_count == 1 and case.status == "open"
    assert case.subject_id == listing.seller_id


def test_more_reporters_raise_the_priority_of_the_same_case(listing):
    report(client_for(UserFactory()), "listing", listing.id, "spam")
    one = Case.objects.get().priority

    for _ in range(3):
        report(client_for(UserFactory()), "listing", listing.id, "spam")

    case = Case.objects.get()
    assert case.reporter_count == 4
    assert case.priority > one


def test_queue_is_ordered_by_severity_confidence_and_exposure(mod_client):
    spam = ListingFactory(active=True, title="Spammy thing")
    scam = ListingFactory(active=True, title="Scammy thing")
    popular_scam = ListingFactory(active=True, title="Popular scam", view_count=5000)
    reporter = UserFactory()
    report(client_for(reporter), "listing", spam.id, "spam")
    report(client_for(reporter), "listing", scam.id, "scam")
    report(client_for(reporter), "listing", popular_scam.id, "scam")

    response = mod_client.get("/api/moderation/queue")

    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [r["listing"]["title"] for r in rows] == ["Popular scam", "Scammy thing", "Spammy thing"]
    assert rows[0]["reasons"] == ["report:scam"]
    assert rows[0]["priority"] > rows[1]["priority"] > rows[2]["priority"]
    assert "fraud_score" in rows[0] and rows[0]["status"] == "open"


def test_queue_query_count_does_not_grow_with_the_page(mod_client, django_assert_max_num_queries):
    reporter = UserFactory()
    for _ in range(12):
        report(client_for(reporter), "listing", ListingFactory(active=True).id, "spam")
    mod_client.get("/api/moderation/queue")  # warm the permission cache

    with django_assert_max_num_queries(8):
        response = mod_client.get("/api/moderation/queue")

    assert len(response.json()["results"]) == 12


@pytest.mark.parametrize("path", [
    "/api/moderation/queue", "/api/moderation/metrics", "/api/moderation/audit",
])
def test_moderator_endpoints_refuse_ordinary_users_and_anonymous(api_client, user_client, path):
    assert api_client.get(path).status_code == 401
    assert user_client.get(path).status_code == 403


def test_reporting_and_appealing_need_an_account(api_client, listing):
    assert report(api_client, "listing", listing.id, "scam").status_code == 401
    appeal = api_client.post("/api/appeals", {"case": str(listing.id), "statement": "x"},
                             format="json")
    assert appeal.status_code == 401
    assert Case.objects.count() == 0


def test_staff_and_superuser_flags_are_not_what_makes_a_moderator(user):
    # Outside the "moderators" group even an admin account is refused: the
    # queue is a role, granted by group membership.
    user.is_staff = user.is_superuser = True
    user.save()
    assert client_for(user).get("/api/moderation/queue").status_code == 403


def test_ordinary_user_cannot_decide_or_claim(user_client, listing, moderator):
    report(client_for(UserFactory()), "listing", listing.id, "scam")
    case = Case.objects.get()

    decide = user_client.post(f"/api/moderation/cases/{case.id}/decide",
                              {"action": "remove"}, format="json")
    claim = user_client.post(f"/api/moderation/cases/{case.id}/claim")

    assert decide.status_code == 403 and claim.status_code == 403
    case.refresh_from_db()
    assert case.status == "open" and case.claimed_by is None
    listing.refresh_from_db()
    assert listing.status == "active"


def test_reports_are_validated(user_client, listing, user):
    bad_reason = report(user_client, "listing", listing.id, "boring")
    bad_type = report(user_client, "order", listing.id, "scam")
    bad_id = user_client.post("/api/reports", {"target_type": "listing", "target_id": "x",
                                               "reason": "scam"}, format="json")
    missing = report(user_client, "listing", "0190a1c4-0000-7000-8000-000000000000", "scam")
    myself = report(user_client, "user", user.id, "spam")

    assert bad_reason.status_code == 400 and "reason" in bad_reason.json()
    assert bad_type.status_code == 400 and "target_type" in bad_type.json()
    assert bad_id.status_code == 400
    assert missing.status_code == 404
    assert myself.status_code == 400
    assert Case.objects.count() == 0


def test_a_draft_someone_cannot_see_cannot_be_reported(user_client):
    draft = ListingFactory(title="Secret draft")
    assert report(user_client, "listing", draft.id, "scam").status_code == 404


def test_reporting_a_message_needs_to_be_in_the_conversation(buyer, seller, listing, user_client,
                                                             mod_client):
    from chat import services as chat_services

    conversation, _ = chat_services.conversation_start(listing_id=listing.id, buyer=buyer)
    message, _ = chat_services.message_send(conversation=conversation, sender=seller,
                                            client_id="c1", body="Hello, still available")

    outsider = report(user_client, "message", message.id, "scam")
    participant = report(client_for(buyer), "message", message.id, "scam")

    assert outsider.status_code == 404
    assert participant.status_code == 201, participant.content
    case = Case.objects.get()
    assert case.target_type == "message" and case.subject_id == seller.pk
    excerpt = mod_client.get(f"/api/moderation/cases/{case.id}").json()["evidence"]["chat_excerpt"]
    assert [(m["body"], m["flagged"]) for m in excerpt if m["flagged"]] == [
        ("Hello, still available", True)]


def test_case_detail_shows_evidence(mod_client, listing):
    report(client_for(UserFactory()), "listing", listing.id, "scam", "Wants payment outside")
    case = Case.objects.get()

    body = mod_client.get(f"/api/moderation/cases/{case.id}").json()

    assert body["evidence"]["listing"]["title"] == listing.title
    assert body["evidence"]["reports"][0]["details"] == "Wants payment outside"
    assert body["evidence"]["subject"]["username"] == "seller"
    assert "reputation" in body["evidence"]["subject"]


def test_report_writes_the_audit_log(listing):
    reporter = UserFactory()
    services.report_submit(reporter=reporter, target_type="listing", target_id=listing.id,
                           reason="scam", details="x")
    actions = list(AuditLog.objects.values_list("action", "actor_id"))
    assert ("case_opened", reporter.pk) in actions
    assert ("report_received", reporter.pk) in actions
