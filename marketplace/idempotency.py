"""`Idempotency-Key` for write endpoints (Stripe's and Zulip's approach).

The same key from the same user on the same endpoint with the same body gets
the first response again; with a different body, 422; while the first
request is still running, 409. Records live in the cache (Redis in
production) for IDEMPOTENCY_TTL seconds.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.response import Response

TTL = 24 * 3600
IN_FLIGHT = "__in_flight__"


def _body_hash(request: Request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    return hashlib.sha256(body.encode()).hexdigest()


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key")
        if not key or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 200:
            return Response(
                {"detail": "Idempotency-Key is too long (200 characters max).", "code": "invalid"},
                status=400,
            )
        cache_key = (
            "idem:"
            + hashlib.sha256(
                f"{request.user.pk}|{request.method}|{request.path}|{key}".encode()
            ).hexdigest()
        )
        fingerprint = _body_hash(request)
        if not cache.add(cache_key, {"state": IN_FLIGHT, "hash": fingerprint}, TTL):
            stored = cache.get(cache_key) or {}
            if stored.get("hash") != fingerprint:
                return Response(
                    {
                        "detail": "This Idempotency-Key was used with another body.",
                        "code": "idempotency_mismatch",
                    },
                    status=422,
                )
            if stored.get("state") == IN_FLIGHT:
                return Response(
                    {
                        "detail": "A request with this Idempotency-Key is in progress.",
                        "code": "idempotency_in_flight",
                    },
                    status=409,
                )
            response = Response(stored["data"], status=stored["status"])
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            cache.delete(cache_key)  # a failed attempt may be retried with the same key
            raise
        if response.status_code >= 500:
            cache.delete(cache_key)
        else:
            cache.set(
                cache_key,
                {
                    "state": "done",
                    "hash": fingerprint,
                    "status": response.status_code,
                    "data": response.data,
                },
                TTL,
            )
        return response

    return wrapper
