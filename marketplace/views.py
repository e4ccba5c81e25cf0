"""Kernel HTTP endpoints: the health probe."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from marketplace import health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every component answers, else 503 naming what is down."""
    components, reasons = health.run_checks()
    healthy = all(state == "ok" for state in components.values())
    body: dict[str, object] = {"status": "ok" if healthy else "down", "components": components}
    if reasons:
        body["reasons"] = reasons
    return JsonResponse(body, status=200 if healthy else 503)
