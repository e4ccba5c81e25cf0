"""Claiming: one moderator per case, even when two claim at the same instant."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from marketplace.errors import InvalidState
from moderation import services
from moderation.models import Case, Decision
from tests.conftest import client_for
from tests.listings.factories import ListingFactory


def _flag(listing) -> Case:
    return services.case_flag(
        target_type="listing", target_id=listing.id, source="fraud_hold",
        reasons=["too good to be true"], confidence=0.9, subject_id=listing.seller_id,
        listing_id=listing.id,
    )


@pytest.mark.django_db
def test_case_claimed_by_another_moderator_is_refused(moderator, moderator2, listing):
    case = _flag(listing)
    first = client_for(moderator).post(f"/api/moderation/cases/{case.id}/claim")
    assert first.status_code == 200, first.content
    assert first.json()["claimed_by"]["username"] == "mod_ann"

    claim = client_for(moderator2).post(f"/api/moderation/cases/{case.id}/claim")
    decide = client_for(moderator2).post(f"/api/moderation/cases/{case.id}/decide",
                                         {"action": "remove"}, format="json")

    assert claim.status_code == 409 and decide.status_code == 409
    case.refresh_from_db()
    assert case.claimed_by == moderator and case.status == "claimed"
    assert not Decision.objects.exists()
    listing.refresh_from_db()
    assert listing.status == "active"


@pytest.mark.django_db
def test_claiming_twice_is_harmless_and_release_puts_it_back(moderator, moderator2, listing):
    case = _flag(listing)
    client = client_for(moderator)
    assert client.post(f"/api/moderation/cases/{case.id}/claim").status_code == 200
    assert client.post(f"/api/moderation/cases/{case.id}/claim").status_code == 200
    assert client_for(moderator2).post(
        f"/api/moderation/cases/{case.id}/release").status_code == 409

    released = client.post(f"/api/moderation/cases/{case.id}/release")

    assert released.status_code == 200 and released.json()["status"] == "open"
    assert client_for(moderator2).post(
        f"/api/moderation/cases/{case.id}/claim").status_code == 200


@pytest.mark.django_db
def test_queue_filters_my_claimed_cases(moderator, mod_client):
    mine, other = _flag(ListingFactory(active=True)), _flag(ListingFactory(active=True))
    services.case_claim(case_id=mine.id, moderator=moderator)

    rows = mod_client.get("/api/moderation/queue", {"mine": "1"}).json()["results"]

    assert [r["id"] for r in rows] == [str(mine.id)]
    assert other.status == "open"


def _race(moderators, action):
    barrier = threading.Barrier(len(moderators))
    outcome: dict[str, str] = {}

    def run(mod):
        try:
            barrier.wait(timeout=10)
            action(mod)
            outcome[mod.username] = "won"
        except InvalidState:
            outcome[mod.username] = "409"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(m,)) for m in moderators]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcome


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_moderators_claiming_at_once_exactly_one_wins(moderator, moderator2):
    for _ in range(5):
        case = _flag(ListingFactory(active=True))

        outcome = _race([moderator, moderator2],
                        lambda mod, case=case: services.case_claim(case_id=case.id, moderator=mod))

        assert sorted(outcome.values()) == ["409", "won"]
        winner = next(name for name, result in outcome.items() if result == "won")
        case.refresh_from_db()
        assert case.status == "claimed" and case.claimed_by.username == winner


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_moderators_deciding_an_unclaimed_case_at_once_decide_it_once(moderator, moderator2):
    listing = ListingFactory(active=True)
    case = _flag(listing)

    outcome = _race(
        [moderator, moderator2],
        lambda mod: services.case_decide(case_id=case.id, moderator=mod, action="remove"),
    )

    assert sorted(outcome.values()) == ["409", "won"]
    assert Decision.objects.filter(case=case).count() == 1
    listing.refresh_from_db()
    assert listing.status == "withdrawn" and listing.removed_by_moderator
