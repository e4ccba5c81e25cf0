"""Dashboard figures on constructed datasets: every event, order, message and
user is placed at a known time and the exact counts are asserted."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from chat import selectors as chat_selectors
from chat.models import Conversation, Message
from listings import selectors as listing_selectors
from marketplace.analytics import kpi
from marketplace.analytics import selectors as analytics
from marketplace.analytics.models import Event
from moderation import selectors as moderation_selectors
from tests.factories import UserFactory
from tests.listings.factories import ListingFactory
from trust import selectors as trust_selectors
from trust.models import Order

pytestmark = pytest.mark.django_db


def _day(win: kpi.Window, index: int, hours: int = 12):
    """Noon (by default) of the window's `index`-th day: never today, so never
    in the future whatever the clock says."""
    assert index < win.days - 1
    return win.start + timedelta(days=index, hours=hours)


def _events(*rows) -> None:
    """rows: (kind, at, user, listing_id, props) with user a User, a visitor
    string ('v:...') or None."""
    objs = []
    for kind, at, who, listing_id, props in rows:
        visitor = who[2:] if isinstance(who, str) else ""
        user_id = who.pk if who is not None and not isinstance(who, str) else None
        objs.append(Event(kind=kind, at=at, user_id=user_id, visitor=visitor,
                          listing_id=listing_id, props=props or {}))
    Event.objects.bulk_create(objs)


# --- funnel and cohorts -------------------------------------------------------------------------


def test_funnel_counts_distinct_users_per_stage_in_the_window_with_stage_rates():
    win = kpi.window(30)
    u1, u2, u3, u4, u5, u6 = UserFactory.create_batch(6)
    listing = uuid.uuid4()
    inside, outside = _day(win, 10), win.start - timedelta(days=10)
    _events(
        *[("listing_viewed", inside, u, listing, None) for u in (u1, u2, u3, u4)],
        ("listing_viewed", inside, u1, uuid.uuid4(), None),  # a second view: same user
        *[("chat_started", inside, u, listing, None) for u in (u1, u2, u3)],
        *[("order_paid", inside, u, listing, None) for u in (u1, u2, u5)],  # u5 bought directly
        ("order_completed", inside, u1, listing, None),
        ("listing_viewed", inside, "v:visitor-a", listing, None),
        ("listing_viewed", _day(win, 11), "v:visitor-a", listing, None),
        ("listing_viewed", inside, "v:visitor-b", listing, None),
        ("listing_viewed", outside, u6, listing, None),  # before the window
        ("order_completed", outside, u2, listing, None),
    )

    result = analytics.funnel(window=win)

    assert [(s["stage"], s["users"], s["rate_from_previous"]) for s in result["stages"]] == [
        ("view", 4, None), ("chat", 3, 0.75), ("order", 3, 1.0), ("completed", 1, 0.3333),
    ]
    assert result["overall_rate"] == 0.25
    assert result["anonymous_viewers"] == 2


def test_empty_funnel_has_no_rates_rather_than_dividing_by_zero():
    result = analytics.funnel(window=kpi.window(30))
    assert [s["users"] for s in result["stages"]] == [0, 0, 0, 0]
    assert [s["rate_from_previous"] for s in result["stages"]] == [None, None, None, None]
    assert result["overall_rate"] is None


def test_users_are_new_active_dormant_or_churned_by_their_last_event():
    active_1, active_2, dormant_1, dormant_2, churned_1, churned_2, silent = (
        UserFactory.create_batch(7)
    )
    now = timezone.now()
    win = kpi.window(30, now=now)
    long_ago = now - timedelta(days=200)
    from django.contrib.auth import get_user_model

    get_user_model().objects.exclude(pk=silent.pk).update(date_joined=long_ago)
    joined_before_window = UserFactory()
    get_user_model().objects.filter(pk=joined_before_window.pk).update(
        date_joined=win.start - timedelta(hours=1))
    ago = lambda days: now - timedelta(days=days)  # noqa: E731
    _events(
        ("listing_viewed", ago(1), active_1, None, None),
        ("searched", ago(3), active_2, None, {"q": "lamp", "results": 2}),
        ("favourited", ago(20), active_2, uuid.uuid4(), None),
        ("listing_viewed", ago(10), dormant_1, None, None),
        ("chat_started", ago(29), dormant_2, None, None),
        ("listing_viewed", ago(45), churned_1, None, None),
        ("listing_viewed", ago(100), churned_2, None, None),
        ("order_paid", ago(31), churned_2, None, None),
        ("listing_viewed", ago(2), "v:anonymous", None, None),  # not a user
    )

    assert analytics.user_activity(window=win, now=now) == {
        "new": 1, "active": 2, "dormant": 2, "churned": 2,
    }


def test_failed_searches_group_normalised_text_and_skip_found_and_empty_queries():
    win = kpi.window(30)
    day = _day(win, 5)
    _events(
        ("searched", day, None, None, {"q": "Bicyle ", "results": 0}),
        ("searched", day, None, None, {"q": "bicyle", "results": 0}),
        ("searched", day, None, None, {"q": "lamp", "results": 0}),
        ("searched", day, None, None, {"q": "bike", "results": 3}),
        ("searched", day, None, None, {"q": "", "results": 0}),
        ("searched", win.start - timedelta(days=3), None, None, {"q": "zither", "results": 0}),
    )

    assert analytics.failed_searches(window=win) == [
        {"query": "bicyle", "searches": 2}, {"query": "lamp", "searches": 1},
    ]


# --- seller figures -----------------------------------------------------------------------------


def test_listing_activity_counts_only_the_given_listings_per_day_and_per_listing():
    win = kpi.window(30)
    seller, buyer, other_buyer = UserFactory.create_batch(3)
    mine_a, mine_b = ListingFactory(seller=seller), ListingFactory(seller=seller)
    theirs = ListingFactory()
    d3, d7 = _day(win, 3), _day(win, 7)
    _events(
        *[("listing_viewed", d3, buyer, mine_a.pk, None)] * 3,
        ("listing_viewed", d7, other_buyer, mine_b.pk, None),
        *[("listing_viewed", d3, buyer, theirs.pk, None)] * 5,
        ("favourited", d7, buyer, mine_a.pk, None),
        ("chat_started", d7, buyer, mine_b.pk, None),
        ("offer_made", d7, buyer, mine_a.pk, None),
        ("offer_made", d7, seller, mine_a.pk, None),  # the seller's counter-offer
        ("order_paid", d7, buyer, mine_a.pk, None),
        ("listing_viewed", win.start - timedelta(days=1), buyer, mine_a.pk, None),
    )
    ids = [r["id"] for r in listing_selectors.seller_listing_rows(seller=seller)]

    result = analytics.listing_activity(listing_ids=ids, window=win, exclude_user_id=seller.pk)

    assert result["totals"] == {"views": 4, "favourites": 1, "conversations": 1, "offers": 1,
                                "sales": 1}
    assert result["daily"]["views"][3] == 3 and result["daily"]["views"][7] == 1
    assert sum(result["daily"]["views"]) == 4 and len(result["daily"]["views"]) == 30
    assert result["daily"]["sales"][7] == 1
    assert set(result["per_listing"]) == {str(mine_a.pk), str(mine_b.pk)}
    assert result["per_listing"][str(mine_a.pk)] == {
        "views": 3, "favourites": 1, "conversations": 0, "offers": 1, "sales": 1}
    assert result["per_listing"][str(mine_b.pk)]["conversations"] == 1


def _conversation(seller, *, asked=None, replied=None, listing=None):
    """A conversation whose buyer wrote at `asked` and the seller at `replied`."""
    buyer = UserFactory()
    conversation = Conversation.objects.create(
        listing=listing or ListingFactory(seller=seller, active=True), buyer=buyer, seller=seller)
    seq = 0
    for sender, at in ((buyer, asked), (seller, replied)):
        if at is None:
            continue
        seq += 1
        message = Message.objects.create(conversation=conversation, seq=seq, sender=sender,
                                         body="hello")
        Message.objects.filter(pk=message.pk).update(created_at=at)
    return conversation


def test_response_time_is_the_median_first_reply_and_rate_counts_24h_answers():
    now = timezone.now()
    seller = UserFactory()
    t0 = now - timedelta(days=5)
    _conversation(seller, asked=t0, replied=t0 + timedelta(minutes=10))
    _conversation(seller, asked=t0, replied=t0 + timedelta(hours=2))
    _conversation(seller, asked=t0, replied=t0 + timedelta(hours=30))  # answered, too late
    _conversation(seller, asked=now - timedelta(days=2))  # never answered
    _conversation(seller, asked=now - timedelta(hours=1))  # not answered yet: not counted
    _conversation(seller, asked=now - timedelta(days=40),
                  replied=now - timedelta(days=40) + timedelta(minutes=1))  # before the window
    _conversation(seller, replied=now - timedelta(days=1))  # the seller wrote, no buyer
    _conversation(UserFactory(), asked=t0, replied=t0 + timedelta(seconds=5))  # someone else

    stats = chat_selectors.seller_response_stats(seller=seller, since=now - timedelta(days=30),
                                                 now=now)

    assert stats == {"conversations": 5, "answered": 3, "median_seconds": 7200.0,
                     "answered_within_24h": 2, "rate": 0.5}


# --- operator figures from trust, listings and moderation ---------------------------------------


def _order(*, price, paid_at=None, created_at, status="completed", dispute_state="",
           currency="CNY"):
    listing = ListingFactory(status="sold")
    order = Order.objects.create(
        listing=listing, buyer=UserFactory(), seller=listing.seller, price_minor=price,
        fee_minor=0, currency=currency, status=status, pay_by=created_at, paid_at=paid_at,
        dispute_state=dispute_state)
    Order.objects.filter(pk=order.pk).update(created_at=created_at)
    return order


def test_gmv_sums_paid_orders_by_the_day_they_were_paid_and_dispute_rate():
    win = kpi.window(30)
    d2, d5 = _day(win, 2), _day(win, 5)
    _order(price=10_000, paid_at=d5, created_at=d2)
    _order(price=5_000, paid_at=d5 + timedelta(hours=3), created_at=d5, status="refunded",
           dispute_state="resolved")
    _order(price=2_000, paid_at=_day(win, 20), created_at=_day(win, 20), status="paid")
    _order(price=7_000, created_at=d5, status="cancelled")  # never paid
    _order(price=9_000, paid_at=win.start - timedelta(hours=2),
           created_at=win.start - timedelta(days=1))  # paid before the window
    _order(price=3_000, paid_at=d5, created_at=d5, currency="EUR")  # another currency

    result = trust_selectors.order_kpis(window=win, currency="CNY")

    assert result["gmv"] == {"amount_minor": 17_000, "currency": "CNY"}
    assert result["gmv_daily"][5] == 15_000 and result["gmv_daily"][20] == 2_000
    assert sum(result["gmv_daily"]) == 17_000 and len(result["gmv_daily"]) == 30
    assert (result["paid_orders"], result["disputed_orders"]) == (3, 1)
    assert result["dispute_rate"] == 0.3333
    assert result["orders_created"] == 5
    by_status = result["orders_daily_by_status"]
    assert by_status["completed"][2] == 1 and by_status["cancelled"][5] == 1
    assert by_status["refunded"][5] == 1 and by_status["paid"][20] == 1
    assert sum(sum(v) for v in by_status.values()) == 5


def test_listings_by_status_and_fraud_holds_among_new_listings(settings):
    settings.FRAUD_HOLD_THRESHOLD = 0.8
    ListingFactory(active=True, fraud_score=0.1)
    ListingFactory(status="pending_review", fraud_score=0.95)
    ListingFactory(active=True, fraud_score=0.9)  # held, then approved
    ListingFactory()  # a draft, never checked
    old = ListingFactory(status="pending_review", fraud_score=0.99)
    from listings.models import Listing

    Listing.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    win = kpi.window(30)

    result = listing_selectors.listing_kpis(since=win.start, until=win.end)

    assert (result["created"], result["fraud_held"]) == (4, 2)
    assert result["by_status"]["active"] == 2 and result["by_status"]["pending_review"] == 2
    assert result["by_status"]["draft"] == 1 and result["by_status"]["sold"] == 0


def test_case_flow_counts_opened_closed_and_sla_breaches_per_day():
    from moderation.models import Case

    win = kpi.window(30)
    d4, d6 = _day(win, 4), _day(win, 6)
    subject = UserFactory()

    def case(*, created, status="open", decided=None, due):
        c = Case.objects.create(target_type="user", target_id=uuid.uuid4(), subject=subject,
                                source="report",
                                status=status, sla_due_at=due, decided_at=decided)
        Case.objects.filter(pk=c.pk).update(created_at=created)

    case(created=d4, status="decided", decided=d4 + timedelta(hours=2), due=d4 + timedelta(days=1))
    case(created=d4, status="decided", decided=d6, due=d4 + timedelta(days=1))  # late
    case(created=d6, due=timezone.now() - timedelta(hours=1))  # open, overdue now
    case(created=d6, due=timezone.now() + timedelta(days=1))  # open, in time
    case(created=win.start - timedelta(days=3), status="decided", decided=d6,
         due=win.start)  # opened before the window, closed late inside it

    flow = moderation_selectors.case_flow(window=win)

    assert (flow["opened"], flow["closed"]) == (4, 3)
    assert flow["opened_daily"][4] == 2 and flow["opened_daily"][6] == 2
    assert flow["closed_daily"][4] == 1 and flow["closed_daily"][6] == 2
    assert flow["closed_late_daily"][6] == 2 and flow["sla_breaches_closed"] == 2
    assert flow["sla_breaches_open"] == 1


def test_window_spans_whole_local_days_and_days_are_validated():
    win = kpi.window(7)
    assert len(win.dates) == 7 and win.dates[-1] == timezone.localdate()
    assert timezone.localtime(win.start).hour == 0
    assert kpi.parse_days(None) == 30 and kpi.parse_days("90") == 90
    for bad in ("0", "-3", "abc", "367", "1.5"):
        with pytest.raises(ValueError, match="whole number"):
            kpi.parse_days(bad)
