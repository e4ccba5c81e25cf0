"""Every write of moderation: reports, automatic flags, claims, decisions, appeals.

One queue: user reports and automatic flags (fraud holds, flagged chat
messages, prohibited-item rules, duplicate photos, escalated disputes) land
in one `Case` per target while it is in the queue (a partial unique
constraint, not check-then-insert). A case's priority is

    severity (how bad, 0..1) x confidence (how sure, 0..1) x exposure (>= 1)

with exposure = 1 + log10(1 + listing views) + open orders + log2(1 + reporters).

Locking contract: claim is one conditional UPDATE (two moderators racing:
exactly one row changes); decide and appeal lock the Case row
(`select_for_update`) and re-read its state. Decisions are carried out
through the lower apps' services (listings, trust.escrow, accounts), in the
same transaction as the Decision row and its audit entries, so either all of
it happened or none.

Every state change writes an `AuditLog` row (who, what, why, before/after),
and everybody a decision restricts gets a statement of reasons (EU Digital
Services Act art. 17) as a `moderation_decision` notification.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.errors import InvalidState, NotAllowed, NotFound, ValidationFailed
from marketplace.ids import parse_uuid
from marketplace.notifications.services import notify
from moderation import selectors
from moderation.models import (
    QUEUE_STATUSES,
    REPORTABLE_TARGETS,
    Action,
    Appeal,
    AppealStatus,
    AuditLog,
    Case,
    CaseSource,
    CaseStatus,
    Decision,
    Report,
    ReportReason,
    Suspension,
    TargetType,
)

logger = logging.getLogger(__name__)
User = get_user_model()

MODERATORS_GROUP = "moderators"
MODERATOR_PERMISSIONS = ("moderation.moderate_case", "listings.moderate_listing")
DETAILS_MAX = 5000

# How bad a flag is if true (0..1).
SEVERITY = {
    ReportReason.SCAM: 1.0,
    ReportReason.PROHIBITED: 0.9,
    ReportReason.COUNTERFEIT: 0.8,
    ReportReason.OFFENSIVE: 0.6,
    ReportReason.SPAM: 0.3,
    ReportReason.OTHER: 0.4,
    CaseSource.FRAUD_HOLD: 0.9,
    CaseSource.PROHIBITED_RULE: 0.9,
    CaseSource.DISPUTE: 0.8,
    CaseSource.ACCOUNT_SUSPENDED: 0.8,
    CaseSource.DUPLICATE_PHOTO: 0.7,
    CaseSource.MESSAGE_FLAG: 0.6,
    CaseSource.REPUTATION_SIGNAL: 0.5,
}
SEVERE = 0.8

# Which actions make sense for which target.
ACTIONS_FOR = {
    TargetType.LISTING: {Action.APPROVE, Action.REMOVE, Action.WARN, Action.SUSPEND},
    TargetType.USER: {Action.APPROVE, Action.WARN, Action.SUSPEND},
    TargetType.MESSAGE: {Action.APPROVE, Action.REMOVE, Action.WARN, Action.SUSPEND},
    TargetType.ORDER: {Action.REFUND, Action.RELEASE, Action.SPLIT},
}

RESTRICTION_TEXT = {
    Action.HOLD: "Your listing is hidden until a moderator has reviewed it.",
    Action.REMOVE: "Your listing was removed and cannot be relisted.",
    Action.WARN: "You received a warning; repeated violations can lead to suspension.",
    Action.SUSPEND: (
        "Your account is suspended: you cannot log in, your listings are hidden "
        "from search and your open orders are frozen for review."
    ),
    Action.REFUND: "The disputed payment was refunded to the buyer.",
    Action.RELEASE: "The disputed payment was released to the seller.",
    Action.SPLIT: "The disputed payment was split between buyer and seller.",
    Action.APPROVE: "No restriction: the content was found to comply with our rules.",
}


# --- priority --------------------------------------------------------------------------


def priority_of(*, severity: float, confidence: float, exposure: float) -> float:
    return round(severity * confidence * exposure, 6)


def confidence_from_reporters(count: int) -> float:
    """One report: 0.5; each further reporter halves the remaining doubt."""
    return 1.0 - 0.5 ** max(count, 0) if count else 0.0


def _refresh_priority(case: Case, *, now: Any = None) -> None:
    """Recompute exposure and priority (call with the case row locked or new)."""
    views, open_orders = selectors.exposure_facts(case)
    case.exposure = round(
        1.0 + math.log10(1 + views) + open_orders + math.log2(1 + case.reporter_count), 6
    )
    case.priority = priority_of(
        severity=case.severity, confidence=case.confidence, exposure=case.exposure
    )
    now = now or timezone.now()
    if case.status in QUEUE_STATUSES and case.sla_due_at and case.sla_due_at < now:
        case.priority = round(case.priority * 2, 6)  # overdue: to the top


def _sla_due(severity: float, start: Any) -> Any:
    hours = (
        settings.MODERATION_SLA_HOURS_SEVERE if severity >= SEVERE
        else settings.MODERATION_SLA_HOURS_NORMAL
    )
    return start + timedelta(hours=hours)


# --- audit -----------------------------------------------------------------------------


def audit(
    *,
    actor: Any,
    action: str,
    case: Case | None = None,
    target_type: str = "",
    target_id: Any = None,
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one entry to the audit log (actor None = the system)."""
    real_actor = actor if getattr(actor, "pk", None) else None
    return AuditLog.objects.create(
        actor_id=real_actor.pk if real_actor else None,
        actor_username=real_actor.get_username() if real_actor else "",
        automated=real_actor is None,
        action=action,
        case_id=case.pk if case else None,
        target_type=target_type or (case.target_type if case else ""),
        target_id=target_id or (case.target_id if case else None),
        reason=reason[:DETAILS_MAX],
        before=before or {},
        after=after or {},
    )


def _case_state(case: Case) -> dict[str, Any]:
    return {
        "status": case.status,
        "priority": case.priority,
        "claimed_by": str(case.claimed_by_id) if case.claimed_by_id else None,
    }


# --- moderators ------------------------------------------------------------------------


def moderators_group() -> Group:
    """The "moderators" group with its permissions (the data migration makes
    it; this restores it after a test flush and in `seed_demo`)."""
    group, _ = Group.objects.get_or_create(name=MODERATORS_GROUP)
    for dotted in MODERATOR_PERMISSIONS:
        app_label, codename = dotted.split(".")
        perm = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if perm is not None:
            group.permissions.add(perm)
    return group


def moderator_add(*, user: Any) -> None:
    user.groups.add(moderators_group())
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache",
                  "_moderation_is_moderator"):
        user.__dict__.pop(cache, None)


def _require_moderator(user: Any) -> None:
    if not selectors.is_moderator(user):
        raise NotAllowed("Only moderators can do this.")


# --- cases -----------------------------------------------------------------------------


def _lock_open_case(target_type: str, target_id: Any) -> Case | None:
    return (
        Case.objects.select_for_update(of=("self",))
        .filter(target_type=target_type, target_id=target_id, status__in=QUEUE_STATUSES)
        .first()
    )


def _open_or_lock_case(
    *, target_type: str, target_id: Any, source: str, subject_id: Any, listing_id: Any
) -> tuple[Case, bool]:
    """The target's case in the queue, locked, or a new one. The partial
    unique constraint settles a race between two first flags."""
    case = _lock_open_case(target_type, target_id)
    if case is not None:
        return case, False
    now = timezone.now()
    try:
        with transaction.atomic():
            case = Case.objects.create(
                target_type=target_type, target_id=target_id, source=source, sources=[source],
                subject_id=subject_id, listing_id=listing_id, severity=0.0, confidence=0.0,
                sla_due_at=now,
            )
            return case, True
    except IntegrityError:
        case = _lock_open_case(target_type, target_id)
        if case is None:  # pragma: no cover - decided between the two statements
            raise
        return case, False


def case_flag(
    *,
    target_type: str,
    target_id: Any,
    source: str,
    reasons: list[str],
    severity: float | None = None,
    confidence: float = 0.5,
    subject_id: Any = None,
    listing_id: Any = None,
    fraud_score: float | None = None,
    evidence: dict[str, Any] | None = None,
    actor: Any = None,
) -> Case:
    """Put a target in the queue or add a flag to its case there.

    The case keeps every source and reason; severity and confidence are the
    highest seen; the SLA clock starts with the first flag (and tightens when
    a severe one arrives)."""
    severity = SEVERITY.get(source, 0.5) if severity is None else severity
    with transaction.atomic():
        case, created = _open_or_lock_case(
            target_type=target_type, target_id=target_id, source=source,
            subject_id=subject_id, listing_id=listing_id,
        )
        before = {} if created else _case_state(case)
        if source not in case.sources:
            case.sources = [*case.sources, source]
        case.reasons = list(dict.fromkeys([*case.reasons, *reasons]))[:50]
        case.severity = max(case.severity, severity)
        case.confidence = max(case.confidence, min(max(confidence, 0.0), 1.0))
        if fraud_score is not None:
            case.fraud_score = max(case.fraud_score or 0.0, fraud_score)
        if evidence:
            case.evidence = {**case.evidence, **evidence}
        case.subject_id = case.subject_id or subject_id
        case.listing_id = case.listing_id or listing_id
        start = case.created_at or timezone.now()
        case.sla_due_at = min(case.sla_due_at, _sla_due(case.severity, start)) if not created \
            else _sla_due(case.severity, start)
        _refresh_priority(case)
        case.save()
        audit(
            actor=actor, action="case_opened" if created else "case_flagged", case=case,
            reason="; ".join(reasons), before=before,
            after={**_case_state(case), "source": source},
        )
    return case


def _resolve_report_target(
    reporter: Any, target_type: str, target_id: Any
) -> tuple[Any, Any]:
    """(subject user id, listing id) of a target the reporter may see;
    NotFound for what does not exist or is not theirs to see."""
    from chat.selectors import conversation_get_for_participant, message_for_moderation
    from listings.selectors import listing_for_moderation, listing_visible_to

    if target_type == TargetType.LISTING:
        listing = listing_for_moderation(listing_id=target_id)
        if listing is None or not listing_visible_to(listing=listing, user=reporter):
            raise NotFound("No such listing.")
        if listing.seller_id == reporter.pk:
            raise ValidationFailed({"target_id": ["You cannot report your own listing."]})
        return listing.seller_id, listing.pk
    if target_type == TargetType.USER:
        user = User.objects.filter(pk=target_id, is_active=True).first()
        if user is None:
            raise NotFound("No such user.")
        if user.pk == reporter.pk:
            raise ValidationFailed({"target_id": ["You cannot report yourself."]})
        return user.pk, None
    message = message_for_moderation(message_id=target_id)
    if message is None:
        raise NotFound("No such message.")
    conversation = conversation_get_for_participant(
        conversation_id=message["conversation_id"], user=reporter
    )
    sender_id = message["sender_id"]
    if sender_id is None or sender_id == reporter.pk:
        raise ValidationFailed({"target_id": ["You can only report the other party's messages."]})
    return sender_id, conversation.listing_id


def report_submit(
    *, reporter: Any, target_type: Any, target_id: Any, reason: Any, details: Any = ""
) -> tuple[Report, bool]:
    """A user reports a listing, a user or a message. Returns (report, created).

    The same reporter on the same target while its case is open updates
    their report (merge) instead of adding weight; every distinct reporter
    raises the case's confidence and exposure."""
    errors: dict[str, list[str]] = {}
    if target_type not in REPORTABLE_TARGETS:
        errors["target_type"] = [f"One of {', '.join(t.value for t in REPORTABLE_TARGETS)}."]
    if reason not in ReportReason.values:
        errors["reason"] = [f"One of {', '.join(ReportReason.values)}."]
    if details is None:
        details = ""
    if not isinstance(details, str) or len(details) > DETAILS_MAX:
        errors["details"] = [f"Text of at most {DETAILS_MAX} characters."]
    uid = parse_uuid(target_id)
    if uid is None:
        errors["target_id"] = ["A UUID."]
    if errors:
        raise ValidationFailed(errors)
    subject_id, listing_id = _resolve_report_target(reporter, target_type, uid)
    with transaction.atomic():
        case = case_flag(
            target_type=target_type, target_id=uid, source=CaseSource.REPORT,
            reasons=[f"report:{reason}"], severity=SEVERITY[ReportReason(reason)],
            confidence=0.0, subject_id=subject_id, listing_id=listing_id, actor=reporter,
        )
        report = Report.objects.filter(case=case, reporter=reporter).first()
        created = report is None
        if report is None:
            report = Report.objects.create(
                reporter=reporter, target_type=target_type, target_id=uid, reason=reason,
                details=details, case=case,
            )
        else:
            report.reason = reason
            if details and details not in report.details:
                report.details = (f"{report.details}\n---\n{details}" if report.details
                                  else details)[:DETAILS_MAX]
            report.times_reported += 1
            report.save()
        case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        case.reporter_count = Report.objects.filter(case=case).count()
        case.confidence = max(case.confidence, confidence_from_reporters(case.reporter_count))
        _refresh_priority(case)
        case.save()
        audit(
            actor=reporter, action="report_received" if created else "report_merged", case=case,
            reason=f"{reason}: {details}"[:DETAILS_MAX],
            after={"reporters": case.reporter_count, "priority": case.priority},
        )
    return report, created


def case_claim(*, case_id: Any, moderator: Any) -> Case:
    """Take a case off the queue for yourself. One conditional UPDATE: when
    two moderators claim at once exactly one row changes, the other gets 409."""
    _require_moderator(moderator)
    case = selectors.case_get(case_id=case_id)
    _check_may_decide(case, moderator)
    now = timezone.now()
    with transaction.atomic():
        changed = Case.objects.filter(
            pk=case.pk, status__in=[CaseStatus.OPEN, CaseStatus.APPEALED],
            claimed_by__isnull=True,
        ).update(status=CaseStatus.CLAIMED, claimed_by=moderator, claimed_at=now, updated_at=now)
        case.refresh_from_db()
        if not changed:
            if case.claimed_by_id == moderator.pk and case.status == CaseStatus.CLAIMED:
                return case  # claiming your own case again changes nothing
            if case.status == CaseStatus.CLAIMED:
                raise InvalidState("Another moderator has claimed this case.", state=case.status)
            raise InvalidState(f"This case is {case.status}.", state=case.status)
        audit(actor=moderator, action="case_claimed", case=case,
              before={"status": "open", "claimed_by": None}, after=_case_state(case))
    return case


def case_release(*, case_id: Any, moderator: Any) -> Case:
    """Give a claimed case back to the queue (only its claimer)."""
    _require_moderator(moderator)
    with transaction.atomic():
        case = _lock_case(case_id)
        if case.status != CaseStatus.CLAIMED or case.claimed_by_id != moderator.pk:
            raise InvalidState("You have not claimed this case.", state=case.status)
        before = _case_state(case)
        case.status = CaseStatus.APPEALED if _pending_appeal(case) else CaseStatus.OPEN
        case.claimed_by, case.claimed_at = None, None
        case.save()
        audit(actor=moderator, action="case_released", case=case, before=before,
              after=_case_state(case))
    return case


def _lock_case(case_id: Any) -> Case:
    uid = parse_uuid(case_id)
    case = (
        Case.objects.select_for_update(of=("self",)).filter(pk=uid).first() if uid else None
    )
    if case is None:
        raise NotFound("No such case.")
    return case


def _pending_appeal(case: Case) -> Appeal | None:
    return (
        Appeal.objects.select_related("decision")
        .filter(case=case, status=AppealStatus.PENDING)
        .first()
    )


def _check_may_decide(case: Case, moderator: Any) -> None:
    """An appeal goes to a different moderator than the one who decided."""
    appeal = _pending_appeal(case)
    if appeal is not None and appeal.decision.moderator_id == moderator.pk:
        raise NotAllowed("A different moderator must decide the appeal against your decision.")


# --- carrying decisions out -------------------------------------------------------------


def _listing_state(listing_id: Any) -> dict[str, Any]:
    from listings.selectors import listing_moderation_state

    return listing_moderation_state(listing_id=listing_id)


def _user_state(user_id: Any) -> dict[str, Any]:
    row = User.objects.filter(pk=user_id).values("is_active").first()
    return {"is_active": row["is_active"]} if row else {}


def _order_state(order_id: Any) -> dict[str, Any]:
    from trust.selectors import order_state

    return order_state(order_id=order_id)


def _message_state(message_id: Any) -> dict[str, Any]:
    from chat.selectors import message_state

    state = message_state(message_id=message_id)
    if state:
        state["body"] = state["body"][:500]  # enough for the audit log
    return state


def _target_state(case: Case) -> dict[str, Any]:
    state: dict[str, Any] = {}
    if case.target_type == TargetType.MESSAGE:
        state["message"] = _message_state(case.target_id)
    if case.target_type == TargetType.ORDER:
        state["order"] = _order_state(case.target_id)
    if case.listing_id:
        state["listing"] = _listing_state(case.listing_id)
    if case.subject_id:
        state["user"] = _user_state(case.subject_id)
    return state


def user_suspend(*, user: Any, case: Case, actor: Any, reason: str) -> Suspension:
    """Suspend an account: no log-in or API token, listings withdrawn (gone
    from search), open orders frozen for a moderator. Call inside a transaction."""
    from listings.services import listings_withdraw_for_seller
    from marketplace.accounts.services import auth_token_revoke
    from trust.escrow import orders_freeze_for_user

    suspension = Suspension.objects.filter(user=user, lifted_at__isnull=True).first()
    if suspension is None:
        suspension = Suspension.objects.create(user=user, case=case, reason=reason)
    # No accounts service for this yet: is_active is Django's own switch
    # (log-in, sessions and token auth all refuse inactive users).
    User.objects.filter(pk=user.pk).update(is_active=False)
    auth_token_revoke(user=user)
    withdrawn = listings_withdraw_for_seller(seller=user, reason="suspended")
    frozen = orders_freeze_for_user(user=user, note=f"Account suspended: {reason}"[:500])
    audit(actor=actor, action="user_suspended", case=case, target_type=TargetType.USER,
          target_id=user.pk, reason=reason, before={"is_active": True},
          after={"is_active": False, "listings_withdrawn": withdrawn, "orders_frozen": frozen})
    return suspension


def user_unsuspend(*, user: Any, case: Case, actor: Any, reason: str) -> bool:
    """Lift an active suspension (an appeal succeeded). Listings stay
    withdrawn; the seller relists what they want."""
    updated = Suspension.objects.filter(user=user, lifted_at__isnull=True).update(
        lifted_at=timezone.now()
    )
    if not updated:
        return False
    User.objects.filter(pk=user.pk).update(is_active=True)
    audit(actor=actor, action="user_reinstated", case=case, target_type=TargetType.USER,
          target_id=user.pk, reason=reason, before={"is_active": False},
          after={"is_active": True})
    return True


def _carry_out(
    case: Case, *, action: str, moderator: Any, note: str, refund_minor: int | None,
    previous: Decision | None,
) -> None:
    from listings import services as listing_services
    from listings.selectors import listing_for_moderation, listing_is_held
    from trust import escrow
    from trust.selectors import order_for_moderation

    subject = User.objects.filter(pk=case.subject_id).first() if case.subject_id else None
    listing = (
        listing_for_moderation(listing_id=case.listing_id)
        if case.listing_id and case.target_type == TargetType.LISTING else None
    )
    reason = note or ", ".join(case.reasons) or action
    overturning = previous is not None and previous.action != action

    if overturning and previous.action == Action.SUSPEND and subject is not None:
        user_unsuspend(user=subject, case=case, actor=moderator, reason=reason)

    if action == Action.APPROVE:
        if listing is not None and listing_is_held(listing=listing):
            listing_services.listing_approve(listing=listing, actor=moderator)
        elif listing is not None and listing.removed_by_moderator and overturning:
            listing_services.listing_reinstate(listing=listing, actor=moderator)
    elif action == Action.REMOVE and case.target_type == TargetType.MESSAGE:
        from chat import services as chat_services

        chat_services.message_remove(message_id=case.target_id, reason=reason)
    elif action == Action.REMOVE:
        if listing is None:
            raise ValidationFailed({"action": ["Only a listing or a message can be removed."]})
        listing_services.listing_reject(listing=listing, actor=moderator, reason=reason)
    elif action == Action.SUSPEND:
        if subject is None:
            raise ValidationFailed({"action": ["This case has no user to suspend."]})
        if subject.pk == moderator.pk:
            raise NotAllowed("You cannot suspend yourself.")
        user_suspend(user=subject, case=case, actor=moderator, reason=reason)
    elif action in (Action.REFUND, Action.RELEASE, Action.SPLIT):
        order = order_for_moderation(order_id=case.target_id)
        if order is None:
            raise NotFound("The order of this case no longer exists.")
        if previous is not None and previous.action != action:
            raise InvalidState("Money already moved; the decision on it cannot be changed.",
                               state=order.status)
        escrow.dispute_resolve(order=order, moderator=moderator, decision=action,
                               refund_minor=refund_minor, note=note)
    # warn: the statement of reasons below is the warning.


def _affected_users(case: Case) -> list[Any]:
    """Who gets the statement of reasons: the subject, and for disputes the buyer too."""
    ids = [case.subject_id] if case.subject_id else []
    if case.target_type == TargetType.ORDER:
        from trust.selectors import order_buyer_id

        buyer_id = order_buyer_id(order_id=case.target_id)
        if buyer_id:
            ids.append(buyer_id)
    return list(User.objects.filter(pk__in=ids))


def _statement_of_reasons(case: Case, decision: Decision) -> None:
    """What was restricted, which rule, the facts, whether automated, how to appeal."""
    deadline = decision.created_at + timedelta(days=settings.MODERATION_APPEAL_WINDOW_DAYS)
    facts = [r for r in case.reasons][:20]
    for user in _affected_users(case):
        token = appeal_token(case_id=case.pk, user_id=user.pk)
        notify(
            recipient=user,
            kind="moderation_decision",
            payload={
                "case_id": str(case.pk),
                "decision_id": str(decision.pk),
                "target": {"type": case.target_type, "id": str(case.target_id)},
                "action": decision.action,
                "restriction": (
                    "Your message was removed from the conversation."
                    if case.target_type == TargetType.MESSAGE and decision.action == Action.REMOVE
                    else RESTRICTION_TEXT.get(Action(decision.action), "")
                ),
                "rule": decision.rule,
                "facts": facts,
                "note": decision.note,
                "automated": decision.automated,
                "automated_detection": case.source != CaseSource.REPORT,
                "appeal": {
                    "how": "POST /api/appeals {\"case\": \"<case_id>\", \"statement\": \"...\"}",
                    # Lets a suspended user (who cannot log in) appeal too.
                    "token": token,
                    "url": settings.SITE_URL.rstrip("/") + appeal_page_path(token),
                    "until": deadline.isoformat(),
                    "reviewed_by": "a human moderator other than the one who decided",
                },
            },
            # The e-mail and the notification centre open the appeal page, which
            # works without logging in (the token in the path is the proof).
            link=appeal_page_path(token),
            dedupe_key=f"moderation:{decision.pk}:{user.pk}",
        )


def _tell_reporters(case: Case, decision: Decision) -> None:
    """Whoever reported the target learns what was decided (DSA art. 16(5))."""
    for report in case.reports.select_related("reporter"):
        notify(
            recipient=report.reporter,
            kind="moderation_report_outcome",
            payload={
                "case_id": str(case.pk),
                "target": {"type": case.target_type, "id": str(case.target_id)},
                "your_reason": report.reason,
                "action": decision.action,
                "outcome": RESTRICTION_TEXT.get(Action(decision.action), "").replace(
                    "Your ", "The "
                ).replace("You ", "The user "),
            },
            dedupe_key=f"moderation-report:{decision.pk}:{report.reporter_id}",
        )


def _rule_for(case: Case, action: str) -> str:
    if action in (Action.REFUND, Action.RELEASE, Action.SPLIT):
        return "Buyer protection: disputed orders are decided by a moderator"
    named = {
        "report:scam": "No scams or fraud",
        "report:prohibited": "Prohibited items",
        "report:counterfeit": "No counterfeit goods",
        "report:offensive": "No offensive content",
        "report:spam": "No spam",
    }
    rules = [named[r] for r in case.reasons if r in named]
    rules += [r.split(":", 1)[1].strip() for r in case.reasons if r.startswith("rule:")]
    if CaseSource.DUPLICATE_PHOTO in case.sources:
        rules.append("Use only your own photos")
    if CaseSource.FRAUD_HOLD in case.sources or CaseSource.MESSAGE_FLAG in case.sources:
        rules.append("No scams or fraud")
    return "; ".join(dict.fromkeys(rules)) or "Marketplace rules"


def case_decide(
    *,
    case_id: Any,
    moderator: Any,
    action: Any,
    note: Any = "",
    refund_minor: Any = None,
) -> Decision:
    """Decide a case and carry the decision out. Takes the Case row lock.

    An unclaimed case is claimed on the way; a case another moderator
    claimed is 409; an appealed case must be decided by someone other than
    the moderator who decided it first (403)."""
    _require_moderator(moderator)
    if action not in Action.values or action == Action.HOLD:
        raise ValidationFailed({"action": [
            f"One of {', '.join(a for a in Action.values if a != Action.HOLD)}."
        ]})
    if note is None:
        note = ""
    if not isinstance(note, str) or len(note) > DETAILS_MAX:
        raise ValidationFailed({"note": [f"Text of at most {DETAILS_MAX} characters."]})
    if action == Action.SPLIT and (
        isinstance(refund_minor, bool) or not isinstance(refund_minor, int)
    ):
        raise ValidationFailed({"refund_minor": ["For a split, the refund in minor units."]})
    with transaction.atomic():
        case = _lock_case(case_id)
        if case.status == CaseStatus.DECIDED:
            raise InvalidState("This case is already decided.", state=case.status)
        if case.status == CaseStatus.CLAIMED and case.claimed_by_id != moderator.pk:
            raise InvalidState("Another moderator has claimed this case.", state=case.status)
        _check_may_decide(case, moderator)
        if action not in ACTIONS_FOR[TargetType(case.target_type)]:
            allowed = ", ".join(sorted(ACTIONS_FOR[TargetType(case.target_type)]))
            raise ValidationFailed({"action": [
                f"For a {case.target_type} case, one of {allowed}."
            ]})
        appeal = _pending_appeal(case)
        previous = appeal.decision if appeal else None
        before = {"case": _case_state(case), **_target_state(case)}
        _carry_out(case, action=action, moderator=moderator, note=note,
                   refund_minor=refund_minor if action == Action.SPLIT else None,
                   previous=previous)
        decision = Decision.objects.create(
            case=case, action=action, moderator=moderator, note=note,
            rule=_rule_for(case, action), appeal=appeal,
            refund_minor=refund_minor if action == Action.SPLIT else None,
        )
        now = timezone.now()
        if appeal is not None:
            appeal.status = (
                AppealStatus.UPHELD if previous and previous.action == action
                else AppealStatus.OVERTURNED
            )
            appeal.decided_at = now
            appeal.save(update_fields=["status", "decided_at"])
        case.status = CaseStatus.DECIDED
        case.claimed_by = case.claimed_by or moderator
        case.claimed_at = case.claimed_at or now
        case.decided_at = now
        case.save()
        audit(
            actor=moderator, action=f"decision_{action}", case=case, reason=note or decision.rule,
            before=before,
            after={
                "case": _case_state(case), **_target_state(case),
                "decision_id": str(decision.pk),
                "appeal": {"id": str(appeal.pk), "outcome": appeal.status} if appeal else None,
            },
        )
        if action != Action.APPROVE or appeal is not None or CaseSource.FRAUD_HOLD in case.sources:
            _statement_of_reasons(case, decision)
        if appeal is None:
            _tell_reporters(case, decision)
    return decision


def automated_hold_record(
    *, case: Case, rule: str, note: str = ""
) -> Decision:
    """Record an automatic restriction (a held listing) as an automated,
    appealable decision, and tell the seller why. The case stays in the queue
    for a human."""
    with transaction.atomic():
        existing = Decision.objects.filter(case=case, action=Action.HOLD).first()
        if existing is not None:
            return existing
        decision = Decision.objects.create(
            case=case, action=Action.HOLD, automated=True, rule=rule, note=note
        )
        audit(actor=None, action="decision_hold", case=case, reason=rule,
              after={"decision_id": str(decision.pk), **_target_state(case)})
        _statement_of_reasons(case, decision)
    return decision


# --- appeals ---------------------------------------------------------------------------


_APPEAL_SALT = "moderation.appeal"


def appeal_token(*, case_id: Any, user_id: Any) -> str:
    """A signed token that lets `user_id` appeal `case_id` without logging in
    (a suspended account cannot log in, yet must be able to appeal)."""
    return signing.dumps({"c": str(case_id), "u": str(user_id)}, salt=_APPEAL_SALT)


# The web page a statement of reasons links to (frontend/urls.py serves it;
# a path, not a reverse(), so moderation does not depend on the front end).
APPEAL_PAGE_PATH = "/appeal/{token}/"


def appeal_page_path(token: str) -> str:
    return APPEAL_PAGE_PATH.format(token=token)


def appeal_token_read(*, token: Any) -> dict[str, str]:
    """{"case_id", "user_id"} of a valid appeal token; InvalidState (409) when
    the appeal window has passed, NotAllowed (403) when forged or damaged."""
    max_age = timedelta(days=settings.MODERATION_APPEAL_WINDOW_DAYS)
    try:
        data = signing.loads(str(token), salt=_APPEAL_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise InvalidState("The appeal period of this decision has ended.",
                           state="expired") from None
    except signing.BadSignature:
        raise NotAllowed("This appeal link is not valid.", code="bad_token") from None
    return {"case_id": str(data.get("c")), "user_id": str(data.get("u"))}


def appeal_submit_with_token(*, token: Any, case_id: Any, statement: Any) -> Appeal:
    """`appeal_submit` for the holder of an appeal token from a statement of
    reasons. The token names the case and the user; it lasts as long as the
    appeal window."""
    data = appeal_token_read(token=token)
    if str(parse_uuid(case_id)) != data["case_id"]:
        raise NotAllowed("This appeal link is for another case.", code="bad_token")
    appellant = get_user_model().objects.filter(pk=data["user_id"]).first()
    if appellant is None:
        raise NotFound("No such case.")
    return appeal_submit(appellant=appellant, case_id=case_id, statement=statement)


def appeal_submit(*, appellant: Any, case_id: Any, statement: Any) -> Appeal:
    """The affected user contests the latest decision on a case (within
    MODERATION_APPEAL_WINDOW_DAYS, about 6 months). The case goes back into
    the queue, for a different moderator."""
    if not isinstance(statement, str) or not statement.strip() or len(statement) > DETAILS_MAX:
        raise ValidationFailed({"statement": [f"Explain in 1 to {DETAILS_MAX} characters."]})
    uid = parse_uuid(case_id)
    if uid is None:
        raise NotFound("No such case.")
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).filter(pk=uid).first()
        if case is None or appellant.pk not in {u.pk for u in _affected_users(case)}:
            raise NotFound("No such case.")
        decision = case.decisions.order_by("-created_at").first()
        if decision is None:
            raise InvalidState("Nothing has been decided on this case yet.", state=case.status)
        window = timedelta(days=settings.MODERATION_APPEAL_WINDOW_DAYS)
        if timezone.now() - decision.created_at > window:
            raise InvalidState("The appeal period of this decision has ended.", state=case.status)
        if _pending_appeal(case) is not None:
            raise InvalidState("An appeal on this case is already waiting.", state=case.status)
        if Appeal.objects.filter(decision=decision, appellant=appellant).exists():
            raise InvalidState("You have already appealed this decision.", state=case.status)
        appeal = Appeal.objects.create(
            case=case, decision=decision, appellant=appellant, statement=statement
        )
        before = _case_state(case)
        if case.status != CaseStatus.CLAIMED or case.claimed_by_id == decision.moderator_id:
            case.status = CaseStatus.APPEALED
            case.claimed_by, case.claimed_at = None, None
        case.decided_at = None
        case.sla_due_at = _sla_due(1.0, timezone.now())
        case.confidence = max(case.confidence, 0.5)
        _refresh_priority(case)
        try:
            with transaction.atomic():
                case.save()
        except IntegrityError:
            raise InvalidState(
                "This target already has another case in the queue; a moderator will see "
                "your appeal there.", state=case.status,
            ) from None
        audit(actor=appellant, action="appeal_received", case=case, reason=statement,
              before=before, after={**_case_state(case), "appeal_id": str(appeal.pk)})
    return appeal


# --- queue upkeep ------------------------------------------------------------------------


def queue_refresh(*, batch: int = 2000) -> int:
    """Recompute exposure and the overdue boost of queued cases (beat task)."""
    done = 0
    ids = list(
        Case.objects.filter(status__in=QUEUE_STATUSES)
        .order_by("sla_due_at").values_list("pk", flat=True)[:batch]
    )
    for case_id in ids:
        with transaction.atomic():
            case = Case.objects.select_for_update(of=("self",), skip_locked=True).filter(
                pk=case_id, status__in=QUEUE_STATUSES
            ).first()
            if case is None:
                continue
            old = case.priority
            _refresh_priority(case)
            if case.priority != old:
                Case.objects.filter(pk=case.pk).update(
                    priority=case.priority, exposure=case.exposure
                )
                done += 1
    return done


# --- automatic flags --------------------------------------------------------------------


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    if any("\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in keyword):
        return re.compile(re.escape(keyword), re.IGNORECASE)  # CJK: no word boundaries
    return re.compile(rf"(?<!\w){re.escape(keyword)}(?!\w)", re.IGNORECASE)


def prohibited_hits(*, title: str, description: str, category: str | None) -> list[str]:
    """Which configured rules a listing's text or category breaks."""
    text = f"{title}\n{description}"
    hits = [
        f"rule: prohibited keyword \"{kw}\""
        for kw in settings.MODERATION_PROHIBITED_KEYWORDS
        if kw.strip() and _keyword_pattern(kw.strip()).search(text)
    ]
    if category and category in settings.MODERATION_PROHIBITED_CATEGORIES:
        hits.append(f"rule: prohibited category \"{category}\"")
    return hits


def listing_check_rules(*, listing_id: Any) -> Case | None:
    """Run the prohibited-item rules on a live or held listing; on a hit, queue
    it, hold it (active -> pending_review) and tell the seller why."""
    from listings import services as listing_services
    from listings.selectors import listing_for_moderation, listing_is_active, listing_is_held

    listing = listing_for_moderation(listing_id=listing_id)
    if listing is None or not (listing_is_active(listing=listing)
                               or listing_is_held(listing=listing)):
        return None
    hits = prohibited_hits(title=listing.title, description=listing.description,
                           category=listing.category.slug if listing.category_id else None)
    if not hits:
        return None
    with transaction.atomic():
        case = case_flag(
            target_type=TargetType.LISTING, target_id=listing.pk,
            source=CaseSource.PROHIBITED_RULE, reasons=hits, confidence=0.8,
            subject_id=listing.seller_id, listing_id=listing.pk,
        )
        if listing_is_active(listing=listing):
            listing_services.listing_hold(listing=listing, score=listing.fraud_score,
                                          reasons=hits)
        automated_hold_record(case=case, rule="; ".join(h.split(":", 1)[1].strip()
                                                        for h in hits))
    return case


def photo_hash_store(*, listing_id: Any) -> list[Any]:
    """Hash the listing's photos not hashed yet; returns the new PhotoHash rows."""
    from moderation import phash
    from moderation.models import PhotoHash

    known = set(PhotoHash.objects.filter(listing_id=listing_id).values_list("photo_id", flat=True))
    rows = []
    for photo in selectors.listing_photos(listing_id=listing_id):
        if photo.pk in known:
            continue
        value = phash.hash_stored_photo(photo)
        if value is None:
            continue
        row, _ = PhotoHash.objects.get_or_create(
            photo_id=photo.pk,
            defaults={"listing_id": photo.listing_id, "seller_id": photo.listing.seller_id,
                      "phash": value},
        )
        rows.append(row)
    return rows


def listing_check_photos(*, listing_id: Any) -> Case | None:
    """Flag a listing whose photo is (nearly) the same picture as a photo of
    another seller's listing: a common sign of a scam with stolen photos."""
    from listings.selectors import listing_for_moderation

    listing = listing_for_moderation(listing_id=listing_id)
    if listing is None:
        return None
    photo_hash_store(listing_id=listing_id)
    matches = selectors.photo_matches(
        listing_id=listing_id, seller_id=listing.seller_id,
        max_distance=settings.MODERATION_PHOTO_HASH_DISTANCE,
    )
    if not matches:
        return None
    best = min(m["distance"] for m in matches)
    confidence = 1.0 - 0.5 * best / (settings.MODERATION_PHOTO_HASH_DISTANCE + 1)
    reasons = [
        f"photo matches listing {m['other_listing_id']} of another seller "
        f"(distance {m['distance']})" for m in matches[:5]
    ]
    return case_flag(
        target_type=TargetType.LISTING, target_id=listing.pk, source=CaseSource.DUPLICATE_PHOTO,
        reasons=reasons, confidence=confidence, subject_id=listing.seller_id,
        listing_id=listing.pk, evidence={"photo_matches": matches[:20]},
    )


def seed_moderation(ctx: Any) -> None:
    """seed_demo: the demo 'moderator' account joins the moderators group."""
    moderator = ctx.shared.get("moderator")
    if moderator is not None:
        moderator_add(user=moderator)
        ctx.say("moderation: 'moderator' is in the moderators group")
