"""Seller, operator and moderator dashboards: pages and their JSON API.

Composition lives here, in the top layer (DESIGN.md: frontend may import every
app): each figure comes from a selector of the app that owns the data
(analytics' event log in the kernel, listings, chat, trust, moderation), and
the page and the API answer from the same function, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import selectors as chat_selectors
from frontend import charts, labels
from frontend.views_moderation import moderators_only
from listings import selectors as listing_selectors
from marketplace.analytics import kpi
from marketplace.analytics import selectors as analytics_selectors
from marketplace.api import MoneyField
from marketplace.money import Money, currency_exponent
from moderation import selectors as moderation_selectors
from trust import selectors as trust_selectors

PAGE_DAYS = (7, 30, 90)
TOP_LISTINGS = 8


def _window_info(win: kpi.Window) -> dict[str, Any]:
    return {"days": win.days, "start": win.start.isoformat(), "end": win.end.isoformat()}


# --- data: one function per dashboard, shared by page and API ------------------------------------


def seller_dashboard_data(*, user: Any, days: int) -> dict[str, Any]:
    """The seller's own listings only: ownership is decided here (the
    seller's listing ids from listings), the event log just counts."""
    win = kpi.window(days)
    rows = listing_selectors.seller_listing_rows(seller=user)
    activity = analytics_selectors.listing_activity(
        listing_ids=listing_selectors.seller_listing_ids(seller=user), window=win,
        exclude_user_id=user.pk,
    )
    per_listing, zeros = activity["per_listing"], dict.fromkeys(activity["totals"], 0)
    listings = sorted(
        ({**row, **per_listing.get(row["id"], zeros)} for row in rows),
        key=lambda r: (-r["views"], -r["favourites"], r["title"]),
    )
    return {
        "window": _window_info(win),
        "dates": win.labels(),
        "totals": activity["totals"],
        "daily": activity["daily"],
        "listings": listings,
        "response": chat_selectors.seller_response_stats(seller=user, since=win.start,
                                                         now=win.end),
        "orders": trust_selectors.seller_sales_kpis(seller=user, window=win,
                                                    currency=settings.MARKETPLACE_CURRENCY),
    }


def ops_dashboard_data(*, days: int) -> dict[str, Any]:
    win = kpi.window(days)
    orders = trust_selectors.order_kpis(window=win, currency=settings.MARKETPLACE_CURRENCY)
    listings = listing_selectors.listing_kpis(since=win.start, until=win.end)
    return {
        "window": _window_info(win),
        "dates": win.labels(),
        "gmv": orders["gmv"],
        "gmv_daily": orders["gmv_daily"],
        "orders": {
            "created": orders["orders_created"],
            "paid": orders["paid_orders"],
            "daily_by_status": orders["orders_daily_by_status"],
        },
        "funnel": analytics_selectors.funnel(window=win),
        "users": analytics_selectors.user_activity(window=win),
        "listings": {
            "by_status": listings["by_status"],
            "created": listings["created"],
            "fraud_held": listings["fraud_held"],
        },
        "failed_searches": analytics_selectors.failed_searches(window=win),
        "dispute_rate": orders["dispute_rate"],
        "disputed_orders": orders["disputed_orders"],
        "fraud_hold_rate": kpi.rate(listings["fraud_held"], listings["created"]),
    }


def moderation_dashboard_data(*, days: int) -> dict[str, Any]:
    """moderation's own metrics (the /api/moderation/metrics figures) plus
    the per-day case flow."""
    win = kpi.window(days)
    return {
        "window": _window_info(win),
        "dates": win.labels(),
        "metrics": moderation_selectors.metrics(days=days),
        "flow": moderation_selectors.case_flow(window=win),
    }


# --- JSON API -----------------------------------------------------------------------------------
# Serializers describe the responses in the OpenAPI schema; the views return
# the data functions' dicts as they are.

_int = serializers.IntegerField
_rate = lambda: serializers.FloatField(allow_null=True)  # noqa: E731 - 0..1, null: nothing to divide


class WindowSerializer(serializers.Serializer):
    days = _int()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class SellerCountsSerializer(serializers.Serializer):
    views = _int()
    favourites = _int()
    conversations = _int()
    offers = _int()
    sales = _int()


class SellerDailySerializer(serializers.Serializer):
    views = serializers.ListField(child=_int())
    favourites = serializers.ListField(child=_int())
    conversations = serializers.ListField(child=_int())
    offers = serializers.ListField(child=_int())
    sales = serializers.ListField(child=_int())


class SellerListingSerializer(SellerCountsSerializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    status = serializers.CharField()


class ResponseStatsSerializer(serializers.Serializer):
    conversations = _int()
    answered = _int()
    median_seconds = serializers.FloatField(allow_null=True)
    answered_within_24h = _int()
    rate = _rate()


class SellerOrdersSerializer(serializers.Serializer):
    paid_orders = _int()
    paid_value = MoneyField()
    completed_orders = _int()
    completed_value = MoneyField()


class SellerDashboardSerializer(serializers.Serializer):
    window = WindowSerializer()
    dates = serializers.ListField(child=serializers.DateField())
    totals = SellerCountsSerializer()
    daily = SellerDailySerializer()
    listings = SellerListingSerializer(many=True)
    response = ResponseStatsSerializer()
    orders = SellerOrdersSerializer()


class FunnelStageSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=["view", "chat", "order", "completed"])
    users = _int()
    rate_from_previous = _rate()


class FunnelSerializer(serializers.Serializer):
    stages = FunnelStageSerializer(many=True)
    overall_rate = _rate()
    anonymous_viewers = _int()


class UsersSerializer(serializers.Serializer):
    new = _int()
    active = _int()
    dormant = _int()
    churned = _int()


class OpsOrdersSerializer(serializers.Serializer):
    created = _int()
    paid = _int()
    daily_by_status = serializers.DictField(child=serializers.ListField(child=_int()))


class OpsListingsSerializer(serializers.Serializer):
    by_status = serializers.DictField(child=_int())
    created = _int()
    fraud_held = _int()


class FailedSearchSerializer(serializers.Serializer):
    query = serializers.CharField()
    searches = _int()


class OpsDashboardSerializer(serializers.Serializer):
    window = WindowSerializer()
    dates = serializers.ListField(child=serializers.DateField())
    gmv = MoneyField()
    gmv_daily = serializers.ListField(child=_int())
    orders = OpsOrdersSerializer()
    funnel = FunnelSerializer()
    users = UsersSerializer()
    listings = OpsListingsSerializer()
    failed_searches = FailedSearchSerializer(many=True)
    dispute_rate = _rate()
    disputed_orders = _int()
    fraud_hold_rate = _rate()


DAYS_PARAMETER = OpenApiParameter(
    "days", int, description=f"Window in days, today included (1-{kpi.MAX_DAYS}, default 30)"
)


def _days_or_400(request: Request) -> int | Response:
    try:
        return kpi.parse_days(request.query_params.get("days"))
    except ValueError as exc:
        return Response({"days": [str(exc)]}, status=400)


class SellerDashboardView(APIView):
    """`GET /api/me/dashboard?days=30`: the caller's own listings only."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[DAYS_PARAMETER], responses={200: SellerDashboardSerializer},
                   tags=["dashboards"])
    def get(self, request: Request) -> Response:
        days = _days_or_400(request)
        if isinstance(days, Response):
            return days
        return Response(seller_dashboard_data(user=request.user, days=days))


class OpsDashboardView(APIView):
    """`GET /api/ops/dashboard?days=30`: staff only (401 anonymous, 403 others)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(parameters=[DAYS_PARAMETER], responses={200: OpsDashboardSerializer},
                   tags=["dashboards"])
    def get(self, request: Request) -> Response:
        days = _days_or_400(request)
        if isinstance(days, Response):
            return days
        return Response(ops_dashboard_data(days=days))


# --- pages --------------------------------------------------------------------------------------


def _page_days(request: HttpRequest) -> int | HttpResponse:
    try:
        return kpi.parse_days(request.GET.get("days"))
    except ValueError as exc:
        return render(request, "frontend/dashboard_error.html", {"message": str(exc)},
                      status=400)


def _major(amount_minor: int, currency: str) -> float:
    return amount_minor / 10 ** currency_exponent(currency)


def _money(data: dict[str, Any]) -> Money:
    return Money(int(data["amount_minor"]), data["currency"])


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return _("%(n)d s") % {"n": round(seconds)}
    if seconds < 3600:
        return _("%(n)d min") % {"n": round(seconds / 60)}
    return _("%(n)s h") % {"n": f"{seconds / 3600:.1f}"}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _render(request: HttpRequest, template: str, days: int, context: dict[str, Any],
            time_charts: list[charts.TimeChart]) -> HttpResponse:
    return render(request, template, {
        **context, "days": days, "day_choices": PAGE_DAYS, "time_charts": time_charts,
        "chart_payload": charts.payload(time_charts),
        "width": charts.WIDTH, "height": charts.HEIGHT,
    })


@login_required
def seller_dashboard(request: HttpRequest) -> HttpResponse:
    days = _page_days(request)
    if isinstance(days, HttpResponse):
        return days
    data = seller_dashboard_data(user=request.user, days=days)
    daily, dates = data["daily"], data["dates"]
    time_charts = [
        charts.time_chart("chart-views", _("Views per day"), dates, [(_("Views"), daily["views"])]),
        charts.time_chart("chart-interest", _("Interest per day"), dates, [
            (_("Favourites"), daily["favourites"]), (_("Conversations"), daily["conversations"]),
            (_("Offers"), daily["offers"]), (_("Sales"), daily["sales"]),
        ]),
    ]
    top = data["listings"][:TOP_LISTINGS]
    return _render(request, "frontend/dashboard.html", days, {
        "data": data,
        "response_time": _duration(data["response"]["median_seconds"]),
        "response_rate": _percent(data["response"]["rate"]),
        "completed_value": _money(data["orders"]["completed_value"]),
        "bar_charts": [
            (_("Views by listing"), charts.bars([(r["title"], r["views"]) for r in top])),
            (_("Favourites by listing"),
             charts.bars([(r["title"], r["favourites"]) for r in top])),
        ],
    }, time_charts)


@login_required
def ops_dashboard(request: HttpRequest) -> HttpResponse:
    """Staff only: anonymous visitors go to the login page, others get 403."""
    if not request.user.is_staff:
        raise PermissionDenied
    days = _page_days(request)
    if isinstance(days, HttpResponse):
        return days
    data = ops_dashboard_data(days=days)
    currency = data["gmv"]["currency"]
    dates = data["dates"]
    time_charts = [
        charts.time_chart("chart-gmv", _("GMV per day"), dates,
                          [(_("GMV"), [_major(v, currency) for v in data["gmv_daily"]])],
                          currency=currency),
        charts.time_chart("chart-orders", _("Orders per day by status"), dates, [
            (str(labels.STATUSES.get(status, status)), values)
            for status, values in data["orders"]["daily_by_status"].items()
        ]),
    ]
    stage_labels = {"view": _("Viewed a listing"), "chat": _("Started a chat"),
                    "order": _("Paid an order"), "completed": _("Completed an order")}
    funnel = [
        {**s, "label": stage_labels[s["stage"]], "rate": _percent(s["rate_from_previous"])}
        for s in data["funnel"]["stages"]
    ]
    users = data["users"]
    return _render(request, "frontend/ops_dashboard.html", days, {
        "data": data, "gmv": _money(data["gmv"]), "funnel": funnel,
        "funnel_overall": _percent(data["funnel"]["overall_rate"]),
        "dispute_rate": _percent(data["dispute_rate"]),
        "fraud_hold_rate": _percent(data["fraud_hold_rate"]),
        "bar_charts": [
            (_("Conversion funnel (users)"),
             charts.bars([(s["label"], s["users"]) for s in funnel])),
            (_("Users"), charts.bars([
                # "New" alone is an item condition in the catalogue.
                (pgettext("user cohort", "New"), users["new"]), (_("Active"), users["active"]),
                (_("Dormant"), users["dormant"]), (_("Churned"), users["churned"]),
            ])),
            (_("Listings by status"), charts.bars([
                (str(labels.STATUSES.get(s, s)), n)
                for s, n in data["listings"]["by_status"].items()
            ])),
        ],
    }, time_charts)


@moderators_only
def moderation_dashboard(request: HttpRequest) -> HttpResponse:
    days = _page_days(request)
    if isinstance(days, HttpResponse):
        return days
    data = moderation_dashboard_data(days=days)
    flow, metrics = data["flow"], data["metrics"]
    time_charts = [
        charts.time_chart("chart-cases", _("Cases opened and closed per day"), data["dates"], [
            (_("Opened"), flow["opened_daily"]), (_("Closed"), flow["closed_daily"]),
            (_("Closed after the SLA"), flow["closed_late_daily"]),
        ]),
    ]
    precision = metrics["automatic_flag_precision"]["overall"]
    return _render(request, "frontend/moderation_dashboard.html", days, {
        "data": data, "flow": flow, "metrics": metrics,
        "median_decision": _duration(metrics["median_time_to_decision_seconds"]),
        "flag_precision": _percent(precision),
        "bar_charts": [
            (_("Decisions by kind"), charts.bars([
                (str(labels.MODERATION_ACTIONS.get(a, a)), n)
                for a, n in sorted(metrics["decisions_by_type"].items())
            ])),
        ],
    }, time_charts)
