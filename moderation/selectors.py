"""Reads of moderation: the queue, case evidence, the audit log, metrics,
and the fraud training labels moderation hands to trust."""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from marketplace.errors import NotFound
from marketplace.ids import parse_uuid
from moderation.models import (
    AUTOMATIC_SOURCES,
    QUEUE_STATUSES,
    RESTRICTIVE_ACTIONS,
    Action,
    AuditLog,
    Case,
    CaseSource,
    CaseStatus,
    Decision,
    PhotoHash,
    TargetType,
)

MODERATORS_GROUP = "moderators"


def is_moderator(user: Any) -> bool:
    """Members of the "moderators" group: one indexed EXISTS, remembered on
    the user object for the rest of the request (the queue is a hot path;
    `has_perm` would load every permission of the user and their groups)."""
    if not (user and user.is_authenticated):
        return False
    cached = getattr(user, "_moderation_is_moderator", None)
    if cached is None:
        cached = user.groups.filter(name=MODERATORS_GROUP).exists()
        user._moderation_is_moderator = cached
    return cached


def case_get(*, case_id: Any) -> Case:
    uid = parse_uuid(case_id)
    case = (
        Case.objects.select_related("subject", "claimed_by").filter(pk=uid).first()
        if uid else None
    )
    if case is None:
        raise NotFound("No such case.")
    return case


def queue(
    *,
    status: str | None = None,
    source: str | None = None,
    target_type: str | None = None,
    claimed_by: Any = None,
) -> QuerySet[Case]:
    """Cases in the queue, highest priority first (the partial index
    `moderation_queue` serves the unfiltered read)."""
    statuses = [status] if status in QUEUE_STATUSES else list(QUEUE_STATUSES)
    cases = Case.objects.filter(status__in=statuses)
    if source:
        cases = cases.filter(sources__contains=[source])
    if target_type:
        cases = cases.filter(target_type=target_type)
    if claimed_by is not None:
        cases = cases.filter(claimed_by=claimed_by)
    # (No subselects for the listing titles here: PostgreSQL would compute
    # them for every row an OFFSET skips; see `listing_summaries`.)
    return cases.select_related("subject", "claimed_by").order_by("-priority", "created_at")


def listing_summaries(listing_ids: list[Any]) -> dict[Any, dict[str, Any]]:
    """{listing id: {title, status, fraud_score}} in one query (queue rows)."""
    from listings.selectors import listing_moderation_summaries

    return listing_moderation_summaries(listing_ids=listing_ids)


def exposure_facts(case: Case) -> tuple[int, int]:
    """(listing views, open orders) behind a case's exposure: the listing's
    orders for a listing case, else the subject's as a seller."""
    from listings.selectors import listing_view_count
    from trust.selectors import open_order_count

    if case.listing_id:
        return (listing_view_count(listing_id=case.listing_id),
                open_order_count(listing_id=case.listing_id))
    if case.subject_id:
        return 0, open_order_count(seller_id=case.subject_id)
    return 0, 0


def listing_photos(*, listing_id: Any) -> QuerySet[Any]:
    from listings.selectors import listing_photos_with_seller

    return listing_photos_with_seller(listing_id=listing_id)


def photo_matches(*, listing_id: Any, seller_id: Any, max_distance: int) -> list[dict[str, Any]]:
    """Photos of other sellers within `max_distance` bits of this listing's photos.

    PostgreSQL computes the Hamming distance in the query (bit_count of the
    XOR); other databases compare in Python."""
    mine = list(PhotoHash.objects.filter(listing_id=listing_id).values_list("photo_id", "phash"))
    found: list[dict[str, Any]] = []
    for photo_id, value in mine:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    SELECT photo_id, listing_id, seller_id, d FROM (
                      SELECT photo_id, listing_id, seller_id,
                             bit_count((phash # %s)::bit(64)) AS d
                      FROM moderation_photohash WHERE seller_id <> %s
                    ) m WHERE d <= %s ORDER BY d LIMIT 20
                    """,
                    [value, seller_id, max_distance],
                )
                rows = cursor.fetchall()
        else:
            from moderation.phash import hamming

            rows = [
                (p, lst, s, hamming(value, h))
                for p, lst, s, h in PhotoHash.objects.exclude(seller_id=seller_id).values_list(
                    "photo_id", "listing_id", "seller_id", "phash"
                )
            ]
            rows = sorted((r for r in rows if r[3] <= max_distance), key=lambda r: r[3])[:20]
        found.extend(
            {
                "photo_id": str(photo_id), "other_photo_id": str(other_photo),
                "other_listing_id": str(other_listing), "other_seller_id": str(other_seller),
                "distance": int(distance),
            }
            for other_photo, other_listing, other_seller, distance in rows
        )
    return sorted(found, key=lambda m: m["distance"])


def case_evidence(case: Case) -> dict[str, Any]:
    """What a moderator needs to decide: the listing with photos, the
    reports, fraud score and reasons, the subject's history and reputation,
    the chat excerpt, the disputed order."""
    from chat.selectors import message_excerpt
    from listings.selectors import listing_moderation_facts, seller_listing_count
    from marketplace.accounts.selectors import user_reputation
    from trust.selectors import order_evidence, seller_order_counts

    evidence: dict[str, Any] = {"flags": case.evidence}
    if case.listing_id:
        listing = listing_moderation_facts(listing_id=case.listing_id)
        if listing is not None:
            evidence["listing"] = listing
    if case.subject is not None:
        user = case.subject
        evidence["subject"] = {
            "id": str(user.pk), "username": user.username, "is_active": user.is_active,
            "joined": user.date_joined.isoformat(),
            "listings": seller_listing_count(seller_id=user.pk),
            "orders_as_seller": seller_order_counts(seller_id=user.pk),
            "reputation": user_reputation(user=user),
            "earlier_cases": list(
                Case.objects.filter(subject=user).exclude(pk=case.pk)
                .order_by("-created_at").values("id", "status", "source", "created_at")[:10]
            ),
        }
    if case.target_type == TargetType.MESSAGE:
        excerpt = message_excerpt(message_id=case.target_id, around=5)
        if excerpt is not None:
            evidence["chat_excerpt"] = excerpt
    if case.target_type == TargetType.ORDER:
        order = order_evidence(order_id=case.target_id)
        if order is not None:
            evidence["order"] = order
    evidence["reports"] = [
        {"reporter": r.reporter.username, "reason": r.reason, "details": r.details,
         "times": r.times_reported, "at": r.created_at.isoformat()}
        for r in case.reports.select_related("reporter")
    ]
    return evidence


def audit_entries(*, case_id: Any = None, target_id: Any = None,
                  actor_id: Any = None) -> QuerySet[AuditLog]:
    entries = AuditLog.objects.all()
    for field, value in (("case_id", case_id), ("target_id", target_id), ("actor_id", actor_id)):
        if value:
            uid = parse_uuid(value)
            if uid is None:
                return AuditLog.objects.none()
            entries = entries.filter(**{field: uid})
    return entries.order_by("-created_at")


def metrics(*, days: int = 30) -> dict[str, Any]:
    """Dashboard figures: queue size, median time to decision, decisions by
    type, precision of the automatic flags (share of automatically flagged
    cases whose final decision restricted someone)."""
    since = timezone.now() - timedelta(days=days)
    by_status = dict(
        Case.objects.filter(status__in=QUEUE_STATUSES).values_list("status")
        .annotate(n=Count("id")).values_list("status", "n")
    )
    overdue = Case.objects.filter(status__in=QUEUE_STATUSES, sla_due_at__lt=timezone.now()).count()
    human = Decision.objects.filter(automated=False, created_at__gte=since)
    waits = [
        (decided - opened).total_seconds()
        for decided, opened in human.order_by("-created_at").values_list(
            "created_at", "case__created_at"
        )[:10000]
    ]
    by_type = dict(human.values_list("action").annotate(n=Count("id")).values_list("action", "n"))
    # The final decision of each decided case flagged automatically.
    latest = Decision.objects.filter(case=OuterRef("pk"), automated=False).order_by("-created_at")
    decided = (
        Case.objects.filter(status=CaseStatus.DECIDED, decided_at__gte=since)
        .annotate(final=Subquery(latest.values("action")[:1]))
        .values_list("sources", "final")
    )
    per_source: dict[str, list[int]] = {s: [0, 0] for s in AUTOMATIC_SOURCES}
    for sources, final in decided:
        for source in sources or []:
            if source in per_source and final:
                per_source[source][1] += 1
                per_source[source][0] += int(final in RESTRICTIVE_ACTIONS)
    hits = sum(v[0] for v in per_source.values())
    total = sum(v[1] for v in per_source.values())
    return {
        "window_days": days,
        "queue_size": sum(by_status.values()),
        "queue_by_status": {s.value: by_status.get(s.value, 0) for s in QUEUE_STATUSES},
        "overdue": overdue,
        "median_time_to_decision_seconds": statistics.median(waits) if waits else None,
        "decisions_by_type": by_type,
        "automatic_flag_precision": {
            "overall": round(hits / total, 4) if total else None,
            "decided": total,
            "by_source": {
                s: {"precision": round(v[0] / v[1], 4) if v[1] else None, "decided": v[1]}
                for s, v in sorted(per_source.items())
            },
        },
    }


def fraud_training_rows() -> list[dict[str, Any]]:
    """Labelled listing rows from final human decisions (trust's fraud model
    trains on them): removed listings flagged as scams or by the fraud model
    are 1, held listings a moderator approved are 0."""
    from listings.selectors import listing_for_moderation, seller_listing_count
    from trust.selectors import seller_completed_orders

    latest = Decision.objects.filter(case=OuterRef("pk"), automated=False).order_by("-created_at")
    cases = (
        Case.objects.filter(target_type=TargetType.LISTING, status=CaseStatus.DECIDED)
        .annotate(final=Subquery(latest.values("action")[:1]),
                  final_at=Subquery(latest.values("created_at")[:1]))
        .values("listing_id", "sources", "reasons", "final", "final_at")
    )
    rows = []
    for case in cases:
        scam_flag = CaseSource.FRAUD_HOLD in case["sources"] or any(
            r in ("report:scam", "report:counterfeit") for r in case["reasons"]
        )
        if case["final"] == Action.REMOVE and scam_flag:
            label = 1
        elif case["final"] == Action.APPROVE and CaseSource.FRAUD_HOLD in case["sources"]:
            label = 0
        else:
            continue
        listing = listing_for_moderation(listing_id=case["listing_id"])
        if listing is None:
            continue
        seller, at = listing.seller, case["final_at"]
        rows.append({
            "title": listing.title, "description": listing.description,
            "price": listing.price.to_dict(), "category": listing.category.slug,
            "seller": {
                "account_age_days": max(0, (at - seller.date_joined).days),
                "listings_count": seller_listing_count(seller_id=seller.pk, as_of=at),
                "completed_orders": seller_completed_orders(seller_id=seller.pk, as_of=at),
            },
            "label": label, "seller_id": str(seller.pk),
        })
    return rows


def data_export_for(user: Any) -> Any:
    """Reports about the user (without who reported: no reporter id, name or
    free text) and the reports they filed themselves, for their data export
    (accounts' registry, ModerationConfig.ready)."""
    from marketplace.accounts.privacy import ExportPart
    from moderation.models import Report

    about = Report.objects.filter(case__subject=user).select_related("case").order_by("created_at")
    filed = Report.objects.filter(reporter=user).order_by("created_at")
    return ExportPart(
        {
            "reports_about_me": [
                {
                    "target_type": r.target_type,
                    "target_id": str(r.target_id),
                    "reason": r.reason,
                    "case_status": r.case.status,
                    "created_at": r.created_at.isoformat(),
                }
                for r in about
            ],
            "reports_i_filed": [
                {
                    "target_type": r.target_type,
                    "target_id": str(r.target_id),
                    "reason": r.reason,
                    "details": r.details,
                    "created_at": r.created_at.isoformat(),
                }
                for r in filed
            ],
        }
    )


def appeal_statement(*, case_id: Any, user_id: Any) -> dict[str, Any]:
    """What the appeal page shows the holder of an appeal token (the token
    already proves who they are): the latest decision on the case, its
    deadline, and their appeal against it, if any. NotFound when the case or
    its decision is gone."""
    from django.conf import settings

    from moderation.models import Appeal

    case = Case.objects.filter(pk=parse_uuid(case_id)).first() if parse_uuid(case_id) else None
    decision = case.decisions.order_by("-created_at").first() if case else None
    if case is None or decision is None:
        raise NotFound("No such case.")
    appeal = (
        Appeal.objects.filter(case=case, appellant_id=parse_uuid(user_id))
        .order_by("-created_at").first()
    )
    deadline = decision.created_at + timedelta(days=settings.MODERATION_APPEAL_WINDOW_DAYS)
    return {
        "case": case, "decision": decision, "appeal": appeal, "deadline": deadline,
        # appeal_submit refuses a second appeal on one decision and while one waits
        "open": timezone.now() <= deadline and not (
            appeal is not None
            and (appeal.decision_id == decision.pk or appeal.status == "pending")
        ),
    }


def appeals_for_user(*, user: Any) -> QuerySet[Any]:
    """The user's own appeals, newest first, with their case and decision."""
    from moderation.models import Appeal

    return (
        Appeal.objects.filter(appellant=user)
        .select_related("case", "decision")
        .order_by("-created_at")
    )


def case_flow(*, window: Any) -> dict[str, Any]:
    """Per-day flow for the moderation dashboard over `window`
    (marketplace.analytics.kpi.Window), next to `metrics()`: cases opened per
    day (created), cases closed per day (a case's latest decision, by
    `decided_at`), and SLA breaches: cases closed in the window after their
    `sla_due_at`, plus the ones still in the queue past it now."""
    from django.db.models import F

    from marketplace.analytics.kpi import count_by_day

    opened = count_by_day(
        Case.objects.filter(created_at__gte=window.start, created_at__lte=window.end),
        "created_at",
    )
    closed_qs = Case.objects.filter(status=CaseStatus.DECIDED, decided_at__gte=window.start,
                                    decided_at__lte=window.end)
    closed = count_by_day(closed_qs, "decided_at")
    late = count_by_day(closed_qs.filter(decided_at__gt=F("sla_due_at")), "decided_at")
    return {
        "opened_daily": window.series(opened),
        "closed_daily": window.series(closed),
        "closed_late_daily": window.series(late),
        "opened": sum(opened.values()),
        "closed": sum(closed.values()),
        "sla_breaches_closed": sum(late.values()),
        "sla_breaches_open": Case.objects.filter(
            status__in=QUEUE_STATUSES, sla_due_at__lt=timezone.now()
        ).count(),
    }
