"""Dashboard metrics: queue size, median time to decision, decisions by type,
precision of the automatic flags."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from moderation import services
from moderation.models import Case
from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db


def _flag(source: str) -> Case:
    listing = ListingFactory(active=True)
    return services.case_flag(target_type="listing", target_id=listing.id, source=source,
                              reasons=[source], subject_id=listing.seller_id,
                              listing_id=listing.id)


def test_metrics_report_queue_decisions_and_flag_precision(mod_client, moderator):
    removed, approved, reported = _flag("fraud_hold"), _flag("fraud_hold"), _flag("report")
    duplicate = _flag("duplicate_photo")
    _flag("prohibited_rule")  # still open
    Case.objects.filter(pk=removed.pk).update(created_at=timezone.now() - timedelta(hours=2))
    Case.objects.filter(pk=approved.pk).update(created_at=timezone.now() - timedelta(hours=4))
    Case.objects.filter(pk=reported.pk).update(created_at=timezone.now() - timedelta(hours=6))
    for case, action in ((removed, "remove"), (approved, "approve"), (reported, "warn"),
                         (duplicate, "remove")):
        services.case_decide(case_id=case.id, moderator=moderator, action=action)

    response = mod_client.get("/api/moderation/metrics")

    assert response.status_code == 200
    body = response.json()
    assert body["queue_size"] == 1 and body["queue_by_status"]["open"] == 1
    assert body["decisions_by_type"] == {"remove": 2, "approve": 1, "warn": 1}
    # waits: ~0 h, 2 h, 4 h, 6 h -> median 3 h
    assert abs(body["median_time_to_decision_seconds"] - 3 * 3600) < 60
    precision = body["automatic_flag_precision"]
    assert precision["by_source"]["fraud_hold"] == {"precision": 0.5, "decided": 2}
    assert precision["by_source"]["duplicate_photo"] == {"precision": 1.0, "decided": 1}
    assert precision["overall"] == round(2 / 3, 4) and precision["decided"] == 3


def test_overdue_cases_rise_to_the_top_of_the_queue(mod_client):
    urgent, late = _flag("fraud_hold"), _flag("message_flag")
    assert urgent.priority > late.priority
    Case.objects.filter(pk=late.pk).update(sla_due_at=timezone.now() - timedelta(hours=1))

    assert services.queue_refresh() >= 1

    rows = mod_client.get("/api/moderation/queue").json()["results"]
    assert rows[0]["id"] == str(late.id) and rows[0]["overdue"] is True
