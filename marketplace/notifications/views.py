"""The login-free unsubscribe page linked from every notification e-mail."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from marketplace.errors import ValidationFailed
from marketplace.notifications import kinds, services
from marketplace.notifications.emails import language_for

TEMPLATE = "notifications/unsubscribe.html"


# The signed token is the credential, so CSRF adds nothing; exempt so mail
# clients' RFC 8058 one-click POST (List-Unsubscribe-Post) works too.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user, kind = services.unsubscribe_parse(token=token)
    except ValidationFailed as exc:
        return render(request, TEMPLATE, {"error": exc.message}, status=400)
    registered = kinds.kind_for(kind)
    context = {
        "user": user,
        "all_kinds": kind == kinds.ALL_KINDS or registered is None,
        "label": registered.label if registered else kind,
    }
    if request.method == "POST":
        # One-click clients send "List-Unsubscribe=One-Click" and no scope: the token's kind.
        scope = request.POST.get("scope", "kind")
        if scope not in ("kind", "all"):
            scope = "kind"
        services.unsubscribe_apply(token=token, scope=scope)
        context.update(done=True, all_kinds=context["all_kinds"] or scope == "all")
    # The page speaks the e-mail's language (the recipient's), not the browser's.
    with translation.override(language_for(user)):
        return render(request, TEMPLATE, context)
