"""Account pages: Settings > Security (two-factor login), Sessions and devices,
Privacy (data export, account deletion), Verification (phone, identity),
Payouts (where the money goes), and moderation appeals.

Presentation only, like the other pages: every write goes through
`marketplace.accounts.security` / `privacy` or `moderation.services`, every read
through their selectors (`marketplace.accounts.verification` and `services`
for the verification and payout pages). A refused step (wrong code, step-up missing, open
orders) comes back to the page with the reason and a 4xx, never a 500.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from frontend import labels
from frontend.errors import error_text, translate
from marketplace.accounts import privacy, security, services, verification
from marketplace.accounts import selectors as account_selectors
from marketplace.errors import DomainError, InvalidState, NotAllowed, NotFound, ValidationFailed
from marketplace.money import Money
from moderation import selectors as moderation_selectors
from moderation import services as moderation_services

# Marks that this browser began a TOTP enrolment, so the page shows its QR code
# (again after a wrong first code). The secret itself stays in the encrypted
# TotpDevice row (security.totp_pending), never in the session or the page's URLs.
ENROL_KEY = "mkt_totp_enrol"


def _status_for(exc: DomainError) -> int:
    return exc.status_code if 400 <= exc.status_code < 500 else 400


def _qr_data_uri(text: str) -> str:
    """The otpauth URI as an inline PNG: it holds the secret, so it is never a
    separate (cacheable, loggable) URL."""
    from search.share import qr_png

    return "data:image/png;base64," + base64.b64encode(qr_png(text, box_size=5)).decode()


def _step_up(request: HttpRequest) -> None:
    """Re-prove identity with the password or a 2FA code typed into the form."""
    security.step_up(
        user=request.user,
        session=security.current_session(request),
        password=request.POST.get("password", ""),
        code=request.POST.get("code", "").strip(),
    )


# --- security: two-factor login ----------------------------------------------------------


@login_required
def security_page(request: HttpRequest) -> HttpResponse:
    me = request.user
    error, status, codes = "", 200, None
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "enrol":
                security.totp_begin(user=me)
                request.session[ENROL_KEY] = True
                return redirect("frontend:settings-security")
            if action == "cancel":
                request.session.pop(ENROL_KEY, None)
                return redirect("frontend:settings-security")
            if action == "confirm":
                if ENROL_KEY not in request.session:
                    raise InvalidState(_("Start two-factor enrolment first."), state="off")
                codes = security.totp_confirm(user=me, code=request.POST.get("totp", ""))
                request.session.pop(ENROL_KEY, None)
                messages.success(request, _("Two-factor login is on."))
            elif action == "disable":
                _step_up(request)
                security.totp_disable(user=me, session=security.current_session(request))
                messages.success(request, _("Two-factor login is off."))
                return redirect("frontend:settings-security")
            elif action == "regenerate":
                _step_up(request)
                if not security.has_two_factor(me):
                    raise InvalidState(_("Two-factor login is off."), state="off")
                codes = security.recovery_codes_regenerate(user=me)
            else:
                raise NotAllowed(_("Unknown action."))
        except DomainError as exc:
            error, status = error_text(exc), _status_for(exc)
    enabled = security.has_two_factor(me)
    pending = (security.totp_pending(user=me)
               if request.session.get(ENROL_KEY) and not codes and not enabled else None)
    return render(request, "frontend/settings_security.html", {
        "section": "security", "error": error, "recovery_codes": codes,
        "enabled": enabled, "required": security.two_factor_required_for(me),
        "codes_left": security.recovery_codes_left(user=me) if enabled else 0,
        "pending": pending,
        "qr": _qr_data_uri(pending["otpauth_uri"]) if pending else "",
    }, status=status)


# --- sessions and devices ---------------------------------------------------------------------


@login_required
def sessions_page(request: HttpRequest) -> HttpResponse:
    current = security.current_session(request)
    security.legacy_sessions_adopt(user=request.user)
    sessions = list(account_selectors.sessions_active(user=request.user))
    current_id = getattr(current, "id", None)
    # The current one first, then by last use (the selector's order).
    sessions.sort(key=lambda s: s.id != current_id)
    rows = [(s, _device_text(s.device_label), _place_text(s.place)) for s in sessions]
    return render(request, "frontend/settings_sessions.html", {
        "section": "sessions", "rows": rows, "current_id": current_id,
        "others": len(sessions) > 1,
    })


def _device_text(label: str) -> str:
    """accounts.devices' English label ("Firefox on Windows") in the active language."""
    browser, on, system = (label or "").partition(" on ")
    if on:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return str(labels.DEVICES.get(label, label)) if label else str(labels.DEVICES["Unknown device"])


def _place_text(place: str) -> str:
    return str(labels.PLACES.get(place or "unknown", place))


@login_required
@require_POST
def session_end(request: HttpRequest, session_id: str) -> HttpResponse:
    current = security.current_session(request)
    try:
        ended = security.session_end(user=request.user, session_id=session_id)
    except NotFound:
        raise Http404(_("No such session.")) from None
    if current is not None and ended.id == current.id:
        logout(request)
        return redirect("frontend:login")
    messages.success(request, _("That device is signed out."))
    return redirect("frontend:settings-sessions")


@login_required
@require_POST
def sessions_end_others(request: HttpRequest) -> HttpResponse:
    count = security.sessions_end_all(
        user=request.user, except_session=security.current_session(request)
    )
    messages.success(request, _("Signed out everywhere else (%(count)s).") % {"count": count})
    return redirect("frontend:settings-sessions")


# --- privacy: export and deletion -------------------------------------------------------------


def _download_path(export: Any) -> str:
    """The signed download link, relative (the page is on this host already)."""
    parts = urlsplit(privacy.export_link(export))
    return f"{parts.path}?{parts.query}"


@login_required
def privacy_page(request: HttpRequest) -> HttpResponse:
    me = request.user
    error, status = "", 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "export":
                export, started = privacy.data_export_request(user=me)
                messages.success(request, _(
                    "We are preparing your file. We will e-mail you a download link; it also "
                    "appears here when it is ready."
                ) if started else _("Your file is already being prepared or ready."))
                return redirect("frontend:settings-privacy")
            if action == "delete":
                if request.POST.get("confirm") != "yes":
                    raise NotAllowed(_("Tick the box to confirm that you want to delete "
                                       "your account."))
                _step_up(request)
                privacy.account_deletion_schedule(
                    user=me, session=security.current_session(request)
                )
                messages.success(request, _("Your account will be deleted. You can still "
                                            "change your mind until then."))
                return redirect("frontend:settings-privacy")
            if action == "restore":
                privacy.account_deletion_cancel(user=me)
                messages.success(request, _("Deletion cancelled: your account stays."))
                return redirect("frontend:settings-privacy")
            raise NotAllowed(_("Unknown action."))
        except DomainError as exc:
            error, status = error_text(exc), _status_for(exc)
    me.refresh_from_db(fields=["deletion_due_at"])
    export = account_selectors.data_export_latest(user=me)
    download = ""
    if export is not None and export.status == "done" and export.file_name:
        download = _download_path(export)
    return render(request, "frontend/settings_privacy.html", {
        "section": "privacy", "error": error, "export": export, "download": download,
        "deletion_due_at": me.deletion_due_at,
        "blockers": ([translate(b) for b in privacy.deletion_blockers(me)]
                     if me.deletion_due_at is None else []),
        "two_factor": security.has_two_factor(me),
        "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
        "link_days": max(1, settings.DATA_EXPORT_LINK_MAX_AGE // 86400),
    }, status=status)


# --- verification: phone and identity --------------------------------------------------------

# The phone check this browser is waiting on (its id, not the code: the code
# only exists as an HMAC in the PhoneVerification row).
PHONE_KEY = "mkt_phone_check"


def _sandbox_sms_text(phone: str) -> str:
    """With the sandbox SMS provider nothing is delivered: show what would have
    been sent, so the page can be used on a demo install. Never with a real one."""
    from marketplace.accounts.providers import SandboxSms

    if settings.SMS_PROVIDER != "marketplace.accounts.providers.SandboxSms":
        return ""
    for sent in reversed(SandboxSms.outbox):
        if sent["to"] == phone:
            return sent["text"]
    return ""


@login_required
def verification_page(request: HttpRequest) -> HttpResponse:
    """Settings > Verification: phone (an SMS code) and identity (a document
    check by the identity provider), each with its status."""
    me = request.user
    errors: dict[str, str] = {}
    status = 200
    form = {"phone": "", "full_name": "", "document_type": "", "country": ""}
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "phone_send":
                form["phone"] = request.POST.get("phone", "").strip()
                check = verification.phone_verification_start(user=me, phone=form["phone"])
                request.session[PHONE_KEY] = str(check.id)
                messages.success(request, _("We sent a code by SMS to %(phone)s.")
                                 % {"phone": verification.mask_phone(check.phone)})
                return redirect("frontend:settings-verification")
            if action == "phone_confirm":
                check_id = request.session.get(PHONE_KEY)
                if not check_id:
                    raise InvalidState(_("Ask for a code first."), state="none")
                verification.phone_verification_confirm(
                    user=me, verification_id=check_id, code=request.POST.get("code", "")
                )
                request.session.pop(PHONE_KEY, None)
                messages.success(request, _("Your phone number is verified."))
                return redirect("frontend:settings-verification")
            if action == "phone_cancel":
                request.session.pop(PHONE_KEY, None)
                return redirect("frontend:settings-verification")
            if action == "identity":
                form.update({k: request.POST.get(k, "").strip()
                             for k in ("full_name", "document_type", "country")})
                check = verification.identity_verify(
                    user=me, full_name=form["full_name"],
                    document_type=form["document_type"],
                    document_number=request.POST.get("document_number", ""),
                    country=form["country"],
                )
                if check.status == "approved":
                    messages.success(request, _("Your identity is verified."))
                else:
                    messages.error(request, _("Your document could not be verified: %(reason)s")
                                   % {"reason": translate(check.reason)})
                return redirect("frontend:settings-verification")
            raise NotAllowed(_("Unknown action."))
        except DomainError as exc:
            section = "identity" if action == "identity" else "phone"
            errors[section], status = error_text(exc), _status_for(exc)
    me.refresh_from_db(fields=["phone", "phone_verified_at", "identity_verified_at"])
    pending = account_selectors.phone_verification_pending(
        user=me, verification_id=request.session.get(PHONE_KEY)
    )
    if pending is None:
        request.session.pop(PHONE_KEY, None)
    last_identity = account_selectors.identity_check_latest(user=me)
    return render(request, "frontend/settings_verification.html", {
        "section": "verification", "errors": errors, "form": form,
        "levels": account_selectors.verification_levels(user=me),
        "phone_masked": verification.mask_phone(me.phone),
        "pending": pending,
        "pending_phone": verification.mask_phone(pending.phone) if pending else "",
        "sandbox_sms": _sandbox_sms_text(pending.phone) if pending else "",
        "identity_rejected": (translate(last_identity.reason)
                              if last_identity and last_identity.status == "rejected"
                              and not me.identity_verified else ""),
        "document_types": [(k, labels.DOCUMENT_TYPES[k]) for k in verification.DOCUMENT_TYPES],
        "identity_limit": Money(settings.PAYOUT_IDENTITY_THRESHOLD_MINOR,
                                settings.MARKETPLACE_CURRENCY),
    }, status=status)


# --- payouts: where the money goes ------------------------------------------------------------


@login_required
def payouts_page(request: HttpRequest) -> HttpResponse:
    """Settings > Payouts: the saved payout details, masked (only the last four
    characters of the account), and the form to set or change them (step-up:
    the password or a 2FA code, like the API's PUT /api/me/payout-details)."""
    me = request.user
    error, status = "", 200
    form = {"method": "", "account_name": ""}
    if request.method == "POST":
        form = {k: request.POST.get(k, "").strip() for k in ("method", "account_name")}
        try:
            if form["method"] not in labels.PAYOUT_METHODS:
                raise ValidationFailed({"method": [_("Choose how you want to be paid.")]})
            if not form["account_name"] or len(form["account_name"]) > 120:
                raise ValidationFailed({"account_name": [_("Enter the account holder's name "
                                                           "(at most 120 characters).")]})
            _step_up(request)
            services.payout_details_set(
                user=me, session=security.current_session(request), method=form["method"],
                account_name=form["account_name"],
                account_number=request.POST.get("account_number", "")[:64],
            )
        except DomainError as exc:
            error, status = error_text(exc), _status_for(exc)
        else:
            messages.success(request, _("Payout details saved."))
            return redirect("frontend:settings-payouts")
    saved = account_selectors.payout_details_masked(user=me)
    return render(request, "frontend/settings_payouts.html", {
        "section": "payouts", "error": error, "form": form, "saved": saved,
        "saved_method": labels.PAYOUT_METHODS.get(saved["method"] or "", saved["method"]),
        "methods": list(labels.PAYOUT_METHODS.items()),
        "two_factor": security.has_two_factor(me),
        "identity_verified": me.identity_verified,
        "identity_limit": Money(settings.PAYOUT_IDENTITY_THRESHOLD_MINOR,
                                settings.MARKETPLACE_CURRENCY),
    }, status=status)


# --- moderation appeals -----------------------------------------------------------------------


def appeal_page(request: HttpRequest, token: str) -> HttpResponse:
    """The appeal link of a statement of reasons: works without logging in
    (a suspended account cannot log in); the signed token names the case and
    the person. Shows the decision, the appeal form while appealing is
    possible, and the appeal's status afterwards."""
    statement = ""
    try:
        who = moderation_services.appeal_token_read(token=token)
    except InvalidState as exc:
        return render(request, "frontend/appeal.html", {"error": error_text(exc)}, status=410)
    except DomainError as exc:
        return render(request, "frontend/appeal.html", {"error": error_text(exc)},
                      status=_status_for(exc))
    error, status = "", 200
    if request.method == "POST":
        statement = request.POST.get("statement", "")
        try:
            moderation_services.appeal_submit_with_token(
                token=token, case_id=who["case_id"], statement=statement
            )
        except DomainError as exc:
            error, status = error_text(exc), _status_for(exc)
        else:
            messages.success(request, _("Your appeal was received. A moderator who did not "
                                        "take the first decision will review it."))
            return redirect("frontend:appeal", token=token)
    try:
        context = moderation_selectors.appeal_statement(
            case_id=who["case_id"], user_id=who["user_id"]
        )
    except NotFound as exc:
        return render(request, "frontend/appeal.html", {"error": error_text(exc)}, status=404)
    decision = context["decision"]
    return render(request, "frontend/appeal.html", {
        **context, "error": error, "statement": statement,
        "action_label": labels.MODERATION_ACTIONS.get(decision.action, decision.action),
        "restriction": labels.RESTRICTIONS.get(decision.action, ""),
        "rule": labels.moderation_rule(decision.rule),
        "appeal_status": (labels.APPEAL_STATUSES.get(context["appeal"].status, "")
                          if context["appeal"] else ""),
    }, status=status)


@login_required
def my_appeals(request: HttpRequest) -> HttpResponse:
    rows = [
        (appeal, labels.APPEAL_STATUSES.get(appeal.status, appeal.status),
         labels.MODERATION_ACTIONS.get(appeal.decision.action, appeal.decision.action),
         # the same page the statement of reasons links to, with a token of their own
         moderation_services.appeal_page_path(moderation_services.appeal_token(
             case_id=appeal.case_id, user_id=request.user.pk)))
        for appeal in moderation_selectors.appeals_for_user(user=request.user)[:100]
    ]
    return render(request, "frontend/my_appeals.html", {"section": "appeals", "rows": rows})
