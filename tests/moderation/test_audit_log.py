"""The audit log is append-only: through the model, the queryset, the admin
and raw SQL alike."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from moderation.models import AppendOnlyError, AuditLog
from moderation.services import audit

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(moderator):
    return audit(actor=moderator, action="case_claimed", target_type="listing",
                 reason="looked at it", before={"status": "open"}, after={"status": "claimed"})


def test_saving_an_existing_entry_is_refused(entry):
    entry.reason = "rewritten history"
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert AuditLog.objects.get(pk=entry.pk).reason == "looked at it"


def test_deleting_is_refused_for_one_entry_and_in_bulk(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.filter(pk=entry.pk).update(reason="x")
    assert AuditLog.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("sql", [
    "UPDATE moderation_auditlog SET reason = 'tampered' WHERE id = %s",
    "DELETE FROM moderation_auditlog WHERE id = %s",
])
def test_raw_sql_update_and_delete_are_refused_by_the_database(entry, sql):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])
    row = AuditLog.objects.get(pk=entry.pk)
    assert row.reason == "looked at it"


def test_admin_offers_no_add_change_or_delete(entry, moderator):
    admin = site._registry[AuditLog]
    request = RequestFactory().get("/admin/")
    moderator.is_superuser = moderator.is_staff = True
    request.user = moderator
    assert not admin.has_add_permission(request)
    assert not admin.has_change_permission(request, entry)
    assert not admin.has_delete_permission(request, entry)


def test_system_actions_are_marked_automated():
    entry = audit(actor=None, action="case_opened", target_type="listing")
    assert entry.automated and entry.actor_id is None and entry.actor_username == ""


def test_a_case_leaves_a_complete_trail(listing, seller, moderator, moderator2):
    from moderation import services
    from moderation.models import Case
    from tests.factories import UserFactory

    reporter = UserFactory()
    services.report_submit(reporter=reporter, target_type="listing", target_id=listing.id,
                           reason="counterfeit", details="Fake logo")
    case = Case.objects.get()
    services.case_claim(case_id=case.id, moderator=moderator)
    services.case_decide(case_id=case.id, moderator=moderator, action="remove", note="Fake")
    services.appeal_submit(appellant=seller, case_id=case.id, statement="It is genuine")
    services.case_decide(case_id=case.id, moderator=moderator2, action="approve",
                         note="Receipt shown")

    trail = list(AuditLog.objects.filter(case_id=case.id).order_by("created_at")
                 .values_list("action", "actor_username"))
    assert trail == [
        ("case_opened", reporter.username),
        ("report_received", reporter.username),
        ("case_claimed", "mod_ann"),
        ("decision_remove", "mod_ann"),
        ("appeal_received", "seller"),
        ("decision_approve", "mod_bob"),
    ]
    last = AuditLog.objects.get(action="decision_approve")
    assert last.before["listing"]["status"] == "withdrawn"
    assert last.after["listing"]["status"] == "active"
    assert last.after["appeal"]["outcome"] == "overturned"
