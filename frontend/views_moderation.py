"""Moderator pages (queue, case with evidence and decision, audit log) and the
report form every user has. Presentation only: moderation's selectors and
services decide; only members of the moderators group see these pages, for
anyone else they do not exist (404, like the API's "not found")."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from frontend.views import _back, pages
from moderation import selectors, services
from moderation.models import Action


def moderators_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.is_moderator(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return login_required(wrapper)


@moderators_only
def queue(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.queue(status=request.GET.get("status") or None), 50).get_page(
        request.GET.get("page")
    )
    titles = selectors.listing_summaries([c.listing_id for c in page if c.listing_id])
    rows = [(case, titles.get(case.listing_id)) for case in page]
    return render(request, "frontend/moderation_queue.html", {"page": page, "rows": rows})


@moderators_only
@pages
def case(request: HttpRequest, case_id: str) -> HttpResponse:
    found = selectors.case_get(case_id=case_id)
    if request.method == "POST":
        refund = request.POST.get("refund_minor", "").strip()
        services.case_decide(
            case_id=found.pk, moderator=request.user, action=request.POST.get("action", ""),
            note=request.POST.get("note", ""),
            refund_minor=int(refund) if refund.isdigit() else None,
        )
        messages.success(request, _("Decision recorded."))
        return redirect("frontend:moderation-queue")
    return render(request, "frontend/moderation_case.html", {
        "case": found, "evidence": selectors.case_evidence(found),
        "audit": list(selectors.audit_entries(case_id=found.pk)[:50]),
        "actions": [(a.value, a.label) for a in Action if a != Action.HOLD],
    })


@moderators_only
def audit(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.audit_entries(), 50).get_page(request.GET.get("page"))
    return render(request, "frontend/moderation_audit.html", {"page": page})


@login_required
@require_POST
@pages
def report_listing(request: HttpRequest, listing_id: str) -> HttpResponse:
    services.report_submit(reporter=request.user, target_type="listing", target_id=listing_id,
                           reason=request.POST.get("reason", ""),
                           details=request.POST.get("details", "")[:2000])
    messages.success(request, _("Thank you. A moderator will look at it."))
    return _back(request)

